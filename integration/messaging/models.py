"""The outbox: every email the app sends is a row before it is sent (or, without SMTP, instead)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from integration.core.db import Base, BigId, utcnow

__all__ = ["OutboxMessage"]


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        # One email per purpose: a digest per rep per day, a thank-you per order (retries never send twice).
        sa.UniqueConstraint("shop_id", "dedupe_key", name="uq_outbox_shop_dedupe"),
        sa.Index("ix_outbox_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(sa.String(255))
    template: Mapped[str] = mapped_column(sa.String(64))
    recipient: Mapped[str] = mapped_column(sa.String(320))
    subject: Mapped[str] = mapped_column(sa.String(998))
    text_body: Mapped[str] = mapped_column(sa.Text)
    html_body: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="queued", server_default="queued")
    message_id: Mapped[str | None] = mapped_column(sa.String(255))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
