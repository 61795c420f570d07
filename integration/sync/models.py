"""How far reconciliation has read each shop's resources."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from integration.core.db import Base

__all__ = ["SyncCursor"]


class SyncCursor(Base):
    """How far reconciliation has read one kind of resource of one shop, and how its last run went."""

    __tablename__ = "sync_cursors"
    __table_args__ = (sa.UniqueConstraint("shop_id", "resource", name="uq_sync_cursors_shop_resource"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    resource: Mapped[str] = mapped_column(sa.String(32))  # "orders", "customers", ...
    # Everything the platform changed before this moment has been stored as an event.
    cursor_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    last_found: Mapped[int] = mapped_column(default=0, server_default="0")
    last_stored: Mapped[int] = mapped_column(default=0, server_default="0")
