"""Per-shop jobs fanned out from one scheduled job, never two of a kind for one shop at once."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from rq import Retry
from rq.job import Job, JobStatus
from sqlalchemy.orm import Session

from integration.core.queues import MAINTENANCE
from integration.core.runtime import Runtime
from integration.shops.models import Shop, ShopState

# A job in one of these states will still run: enqueueing its id again would run the shop twice.
PENDING = frozenset({JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED})


def active_shop_ids(session: Session) -> list[int]:
    return list(session.scalars(sa.select(Shop.id).where(Shop.state == ShopState.ACTIVE).order_by(Shop.id)))


def enqueue_per_shop(
    runtime: Runtime,
    func: str,
    shop_ids: Sequence[int],
    *,
    job_prefix: str,
    timeout: int,
    retry: Retry | None = None,
    queue_name: str = MAINTENANCE,
) -> list[int]:
    """Enqueue ``func(shop_id)`` (a dotted path) for each shop with job id ``{job_prefix}-{shop_id}``,
    skipping shops whose job is still pending; returns the shops enqueued."""
    job_ids = [f"{job_prefix}-{shop_id}" for shop_id in shop_ids]
    existing = Job.fetch_many(job_ids, connection=runtime.redis)
    due = [
        shop_id
        for shop_id, job in zip(shop_ids, existing, strict=True)
        if job is None or job.get_status(refresh=False) not in PENDING
    ]
    if not due:
        return []
    queue = runtime.queue(queue_name)
    prepared = [
        queue.prepare_data(
            func,
            args=(shop_id,),
            job_id=f"{job_prefix}-{shop_id}",
            timeout=timeout,
            retry=retry,
            result_ttl=24 * 3600,
            failure_ttl=7 * 24 * 3600,
            description=f"{job_prefix} shop {shop_id}",
        )
        for shop_id in due
    ]
    with runtime.redis.pipeline() as pipe:
        queue.enqueue_many(prepared, pipeline=pipe)
        pipe.execute()
    return due
