"""What the overview shows, read from the database and Redis (no page code here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rq import Queue, Worker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from integration.core.db import utcnow
from integration.core.queues import ALL
from integration.core.runtime import Runtime
from integration.events.models import EventStatus, WebhookEvent
from integration.ops import traffic
from integration.platforms.registry import parts_for
from integration.shops.models import Shop, ShopState
from integration.shops.subscriptions import parse_report, summarise


@dataclass(frozen=True)
class QueueRow:
    name: str
    waiting: int
    scheduled: int
    started: int
    failed: int


@dataclass(frozen=True)
class WorkerRow:
    name: str
    state: str
    queues: str
    last_heartbeat: dt.datetime | None


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None when there are none)."""
    if not sorted_values:
        return None
    rank = max(1, int(-(-fraction * len(sorted_values) // 1)))  # ceil
    return sorted_values[min(rank, len(sorted_values)) - 1]


def lag_seconds(runtime: Runtime, since: dt.datetime) -> list[float]:
    """Seconds from receipt to done for events finished since ``since``, sorted."""
    with runtime.session() as db:
        rows = db.execute(
            sa.select(WebhookEvent.received_at, WebhookEvent.processed_at).where(
                WebhookEvent.status == EventStatus.DONE, WebhookEvent.processed_at >= since
            )
        ).all()
    return sorted(max(0.0, (done - received).total_seconds()) for received, done in rows if done and received)


def queue_rows(runtime: Runtime) -> list[QueueRow]:
    rows = []
    for name in ALL:
        queue = Queue(name, connection=runtime.redis)
        rows.append(
            QueueRow(
                name,
                queue.count,
                ScheduledJobRegistry(queue=queue).count,  # type: ignore[no-untyped-call]
                StartedJobRegistry(queue=queue).count,
                FailedJobRegistry(queue=queue).count,
            )
        )
    return rows


def worker_rows(runtime: Runtime) -> list[WorkerRow]:
    workers = Worker.all(connection=runtime.redis)
    return sorted(
        (WorkerRow(w.name, str(w.get_state()), ", ".join(w.queue_names()), _aware(w.last_heartbeat)) for w in workers),
        key=lambda w: w.name,
    )


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def stuck_filter(runtime: Runtime, now: dt.datetime) -> Any:
    """Events the sweep would consider lost: processing, or waiting, for longer than ``stale_after``."""
    cutoff = now - dt.timedelta(seconds=runtime.settings.stale_after)
    return sa.or_(
        sa.and_(WebhookEvent.status == EventStatus.PROCESSING, WebhookEvent.started_at < cutoff),
        sa.and_(
            WebhookEvent.status == EventStatus.RECEIVED,
            sa.func.coalesce(WebhookEvent.queued_at, WebhookEvent.received_at) < cutoff,
        ),
    )


def status_counts(runtime: Runtime) -> dict[str, int]:
    with runtime.session() as db:
        rows = db.execute(sa.select(WebhookEvent.status, sa.func.count()).group_by(WebhookEvent.status)).all()
    counts = {s.value: 0 for s in EventStatus}
    counts.update({status: int(n) for status, n in rows})
    return counts


def shop_health(runtime: Runtime) -> list[dict[str, Any]]:
    """Per active shop: token state, subscription summary and the API budget the platform reports."""
    with runtime.session() as db:
        shops = list(db.scalars(sa.select(Shop).where(Shop.state == ShopState.ACTIVE).order_by(Shop.id)))
        rows = []
        for shop in shops:
            report = parse_report(shop.subscriptions_report)
            budget = parts_for(shop.platform).api_budget
            rows.append(
                {
                    "id": shop.id,
                    "platform": parts_for(shop.platform).title or shop.platform,
                    "identifier": shop.identifier,
                    "token_state": shop.token_state,
                    "subscriptions": summarise(report),
                    "subscription_problems": bool(report and report["problems"]),
                    "budget": budget(runtime.redis, shop.identifier) if budget else None,
                }
            )
    return rows


@dataclass
class Overview:
    traffic: traffic.Traffic
    lag_p50: float | None
    lag_p95: float | None
    lag_count: int
    queues: list[QueueRow]
    workers: list[WorkerRow]
    stuck: int
    statuses: dict[str, int]
    shops: list[dict[str, Any]]
    now: dt.datetime


def overview(runtime: Runtime) -> Overview:
    now = utcnow()
    lags = lag_seconds(runtime, now - dt.timedelta(hours=1))
    with runtime.session() as db:
        stuck = int(
            db.scalar(sa.select(sa.func.count()).select_from(WebhookEvent).where(stuck_filter(runtime, now))) or 0
        )
    return Overview(
        traffic=traffic.read(runtime.redis),
        lag_p50=percentile(lags, 0.5),
        lag_p95=percentile(lags, 0.95),
        lag_count=len(lags),
        queues=queue_rows(runtime),
        workers=worker_rows(runtime),
        stuck=stuck,
        statuses=status_counts(runtime),
        shops=shop_health(runtime),
        now=now,
    )
