"""The stored webhook event: what the edge writes before it answers, and what processing makes of it."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from integration.core.db import Base, BigId, utcnow

__all__ = ["DEDUPE_NAMESPACES", "EventStatus", "WebhookEvent", "dedupe_key"]

# ``dedupe_key`` is unique per (platform, shop), and a webhook's key comes from its sender (a header, a
# body field). So every writer keeps to a namespace of its own, and no key one of them can build ever
# equals another's: a delivery with a crafted webhook id cannot pre-empt (or be pre-empted by) the
# event reconciliation stores for an order. Each key is "<namespace>:<the writer's own key>".
DEDUPE_NAMESPACES = ("webhook", "reconcile", "callback")


def dedupe_key(namespace: str, key: str) -> str:
    if namespace not in DEDUPE_NAMESPACES:
        raise ValueError(f"unknown dedupe namespace {namespace!r}")
    return f"{namespace}:{key}"


class EventStatus(enum.StrEnum):
    RECEIVED = "received"
    PROCESSING = "processing"
    DONE = "done"
    IGNORED = "ignored"
    QUARANTINED = "quarantined"
    FAILED = "failed"


class WebhookEvent(Base):
    """One delivery as the platform sent it, stored before we answer, plus its processing state."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        sa.UniqueConstraint("platform", "shop", "dedupe_key", name="uq_webhook_events_dedupe"),
        sa.Index(
            "uq_webhook_events_delivery",
            "platform",
            "shop",
            "delivery_id",
            unique=True,
            sqlite_where=sa.text("delivery_id IS NOT NULL"),
            postgresql_where=sa.text("delivery_id IS NOT NULL"),
        ),
        # Every index here is a page written on each delivery, so the request path touches only the
        # dedupe key and this one: the events waiting to be (or being re-) queued, for the relay
        # (queued_at IS NULL) and the sweep (queued_at long ago). Rows leave it when processed.
        sa.Index(
            "ix_webhook_events_waiting",
            "queued_at",
            "id",
            sqlite_where=sa.text("status = 'received'"),
            postgresql_where=sa.text("status = 'received'"),
        ),
        # What ops and the sweep look for otherwise; a status these rows only reach in a worker.
        sa.Index(
            "ix_webhook_events_attention",
            "status",
            "id",
            sqlite_where=sa.text("status IN ('processing', 'failed', 'quarantined')"),
            postgresql_where=sa.text("status IN ('processing', 'failed', 'quarantined')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(sa.String(16))
    # Shopify domain or BigCommerce store hash, as delivered (the shop may not be registered yet).
    shop: Mapped[str] = mapped_column(sa.String(255))
    topic: Mapped[str] = mapped_column(sa.String(255))
    # What the platform calls this delivery (Shopify webhook id; BigCommerce webhook-id or hash).
    webhook_id: Mapped[str] = mapped_column(sa.String(255))
    # Uniqueness key, namespaced by who wrote the row (see dedupe_key): "webhook:" + the Shopify webhook
    # id or BigCommerce's "scope:hash"; "reconcile:resource:id:updated_at"; "callback:uninstall:jti".
    dedupe_key: Mapped[str] = mapped_column(sa.String(600))
    # Standard Webhooks ``webhook-id`` (BigCommerce), a second dedupe key when present.
    delivery_id: Mapped[str | None] = mapped_column(sa.String(255))
    event_id: Mapped[str | None] = mapped_column(sa.String(255))
    api_version: Mapped[str | None] = mapped_column(sa.String(255))
    triggered_at: Mapped[dt.datetime | None]
    subscription_name: Mapped[str | None] = mapped_column(sa.String(255))
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)
    status: Mapped[str] = mapped_column(sa.String(16), default=EventStatus.RECEIVED)
    attempts: Mapped[int] = mapped_column(default=0)
    duplicates: Mapped[int] = mapped_column(default=0)
    # The last error, or why the event was ignored, quarantined or finished early.
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    processed_at: Mapped[dt.datetime | None]
    # Not before this time: set when a transient failure outlived RQ's retries and the sweep takes over.
    retry_at: Mapped[dt.datetime | None]

    def __repr__(self) -> str:
        return f"<WebhookEvent {self.id} {self.platform}:{self.shop} {self.topic} {self.status}>"
