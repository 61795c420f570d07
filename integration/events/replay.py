"""Operating on stored events: listing them for ops, choosing and replaying them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.runtime import Runtime
from integration.events.dispatch import requeue
from integration.events.models import EventStatus, WebhookEvent


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def event_summary(event: WebhookEvent) -> dict[str, Any]:
    """An event as ops see it: everything but the body (which holds customer data)."""
    return {
        "id": event.id,
        "platform": event.platform,
        "shop": event.shop,
        "topic": event.topic,
        "webhook_id": event.webhook_id,
        "status": event.status,
        "attempts": event.attempts,
        "duplicates": event.duplicates,
        "received_at": _iso(event.received_at),
        "processed_at": _iso(event.processed_at),
        "last_error": event.last_error,
    }


def list_events(
    session: Session, *, status: str | None = None, shop: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    query = sa.select(WebhookEvent).order_by(WebhookEvent.id.desc()).limit(limit)
    if status:
        query = query.where(WebhookEvent.status == status)
    if shop:
        query = query.where(WebhookEvent.shop == shop.strip().lower())
    return [event_summary(e) for e in session.scalars(query)]


def select_events(
    session: Session,
    *,
    ids: Sequence[int] = (),
    status: str | None = None,
    shop: str | None = None,
    since: dt.datetime | None = None,
) -> list[int]:
    """Ids of the events to replay: the given ids, or those matching the filters."""
    query = sa.select(WebhookEvent.id).order_by(WebhookEvent.id)
    if ids:
        query = query.where(WebhookEvent.id.in_(ids))
    if status:
        query = query.where(WebhookEvent.status == status)
    if shop:
        query = query.where(WebhookEvent.shop == shop.strip().lower())
    if since:
        query = query.where(WebhookEvent.received_at >= since)
    return list(session.scalars(query))


def replay_events(runtime: Runtime, event_ids: Sequence[int]) -> None:
    """Run events again from their stored bodies, whatever their status (dedupe is bypassed on
    purpose). The ordered upserts still refuse data older than what is stored."""
    if not event_ids:
        return
    with runtime.session() as session:
        session.execute(
            sa.update(WebhookEvent)
            .where(WebhookEvent.id.in_(event_ids))
            .values(
                status=EventStatus.RECEIVED,
                last_error=None,
                processed_at=None,
                retry_at=None,
                attempts=0,
            )
        )
    requeue(runtime, event_ids)
