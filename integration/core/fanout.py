"""Per-shop jobs fanned out from one scheduled job, never two of a kind for one shop at once."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from rq.job import Job, JobStatus
from sqlalchemy.orm import Session

from integration.core.periodic import PerShopJob
from integration.core.runtime import Runtime
from integration.shops.models import Shop, ShopState

# A job in one of these states will still run: enqueueing its id again would run the shop twice.
PENDING = frozenset({JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED})
RESULT_TTL = 24 * 3600
FAILURE_TTL = 7 * 24 * 3600


def active_shop_ids(session: Session) -> list[int]:
    return list(session.scalars(sa.select(Shop.id).where(Shop.state == ShopState.ACTIVE).order_by(Shop.id)))


def _prepare(runtime: Runtime, job: PerShopJob, shop_id: int, job_id: str) -> object:
    return runtime.queue(job.queue).prepare_data(
        job.func,
        args=(shop_id,),
        job_id=job_id,
        timeout=job.timeout,
        retry=job.retry(),
        result_ttl=RESULT_TTL,
        failure_ttl=FAILURE_TTL,
        description=f"{job.prefix} shop {shop_id}",
    )


def enqueue_per_shop(runtime: Runtime, job: PerShopJob, shop_ids: Sequence[int]) -> list[int]:
    """Enqueue ``job`` for each shop, skipping shops whose job (or its continuation) is still pending;
    returns the shops enqueued."""
    shop_ids = list(shop_ids)
    ids = [job_id for shop_id in shop_ids for job_id in job.job_ids(shop_id)]
    fetched = Job.fetch_many(ids, connection=runtime.redis)
    busy = {
        shop_id
        for shop_id, found in zip([s for s in shop_ids for _ in (0, 1)], fetched, strict=True)
        if found is not None and found.get_status(refresh=False) in PENDING
    }
    due = [shop_id for shop_id in shop_ids if shop_id not in busy]
    if not due:
        return []
    queue = runtime.queue(job.queue)
    with runtime.redis.pipeline() as pipe:
        queue.enqueue_many([_prepare(runtime, job, s, job.job_id(s)) for s in due], pipeline=pipe)  # type: ignore[misc]
        pipe.execute()
    return due


def enqueue_continuation(runtime: Runtime, job: PerShopJob, shop_id: int, current_id: str | None) -> str:
    """From inside a running per-shop job that has more to do: queue the next slice under the shop's other
    job id (the running one still holds its own), at the back of the queue so other shops go first."""
    first, second = job.job_ids(shop_id)
    next_id = second if current_id == first else first
    queue = runtime.queue(job.queue)
    queue.enqueue_many([_prepare(runtime, job, shop_id, next_id)])  # type: ignore[list-item]
    return next_id
