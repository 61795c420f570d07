"""Ops users (the people on call, not any shop's staff) and the audit of every PII reveal."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from integration.core.db import Base, BigId, utcnow

__all__ = ["OpsReveal", "OpsUser"]


class OpsUser(Base):
    __tablename__ = "ops_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-case: one account per address, however it is typed at sign-in.
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    # Argon2id, in the PHC string format argon2-cffi writes (parameters and salt included).
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[dt.datetime | None]


class OpsReveal(Base):
    """One ops user looking at one event's customer data unmasked: who, when, which event.

    The email is copied, not only referenced, so the row still says who it was after the account is
    deleted (the audit outlives the account)."""

    __tablename__ = "ops_reveals"
    __table_args__ = (sa.Index("ix_ops_reveals_event", "event_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ops_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ops_users.id", ondelete="SET NULL"))
    ops_email: Mapped[str] = mapped_column(sa.String(320))
    event_id: Mapped[int] = mapped_column(BigId)
    revealed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
