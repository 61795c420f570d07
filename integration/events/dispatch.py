"""Handing stored events to RQ: the relay (new rows, in batches) and the sweep (lost or stuck rows).

The request path only writes rows. The relay claims rows nobody has queued yet by stamping
``queued_at`` and enqueues them with one ``enqueue_many`` pipeline per batch. If Redis refuses, the
stamps are taken back and the rows wait. The sweep covers whatever slips through anyway: a Redis that
lost its data, a relay killed between stamp and enqueue, a worker killed mid-job.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import redis
import sqlalchemy as sa
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from integration.core.db import utcnow
from integration.core.queues import EVENTS, PROCESS_EVENT, event_job_id, event_retry
from integration.core.runtime import Runtime
from integration.events.models import EventStatus, WebhookEvent

log = logging.getLogger(__name__)

RELAY_BATCH = 500
# Jobs in these states are alive in Redis: the event will be processed without our help.
LIVE_JOB_STATES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def enqueue_events(runtime: Runtime, event_ids: Sequence[int]) -> None:
    """Enqueue one processing job per event, in one Redis pipeline."""
    if not event_ids:
        return
    queue = runtime.queue(EVENTS)
    settings = runtime.settings
    jobs = [
        queue.prepare_data(
            PROCESS_EVENT,
            args=(event_id,),
            job_id=event_job_id(event_id),
            timeout=settings.job_timeout,
            retry=event_retry(settings.max_attempts),
            result_ttl=3600,
            failure_ttl=30 * 24 * 3600,
            description=f"process webhook event {event_id}",
        )
        for event_id in event_ids
    ]
    with runtime.redis.pipeline() as pipe:
        queue.enqueue_many(jobs, pipeline=pipe)
        pipe.execute()


def _claim_unqueued(runtime: Runtime, limit: int) -> list[int]:
    now = utcnow()
    with runtime.session() as session:
        pending = (
            sa.select(WebhookEvent.id)
            .where(WebhookEvent.queued_at.is_(None), WebhookEvent.status == EventStatus.RECEIVED)
            .order_by(WebhookEvent.id)
            .limit(limit)
            # Several relays (one per machine) each take different rows on PostgreSQL; SQLite
            # serialises writers anyway and ignores this.
            .with_for_update(skip_locked=True)
        )
        ids = list(session.scalars(pending))
        if ids:
            session.execute(sa.update(WebhookEvent).where(WebhookEvent.id.in_(ids)).values(queued_at=now))
    return ids


def _release(runtime: Runtime, event_ids: Sequence[int]) -> None:
    with runtime.session() as session:
        session.execute(
            sa.update(WebhookEvent)
            .where(WebhookEvent.id.in_(event_ids), WebhookEvent.status == EventStatus.RECEIVED)
            .values(queued_at=None)
        )


def relay_once(runtime: Runtime, limit: int = RELAY_BATCH) -> int:
    """Queue up to ``limit`` newly stored events; returns how many. Raises if Redis is unreachable
    (after putting the rows back for the next try)."""
    ids = _claim_unqueued(runtime, limit)
    if not ids:
        return 0
    try:
        enqueue_events(runtime, ids)
    except redis.RedisError:
        _release(runtime, ids)
        raise
    return len(ids)


@dataclass(frozen=True)
class SweepReport:
    requeued: list[int]
    still_queued: int


def _live_jobs(runtime: Runtime, event_ids: Sequence[int]) -> set[int]:
    """Which of these events have a job Redis still knows as waiting, scheduled or running."""
    if not event_ids:
        return set()
    jobs = Job.fetch_many([event_job_id(i) for i in event_ids], connection=runtime.redis)
    return {
        event_id
        for event_id, job in zip(event_ids, jobs, strict=True)
        if job is not None and job.get_status(refresh=False) in LIVE_JOB_STATES
    }


def requeue(runtime: Runtime, event_ids: Sequence[int]) -> None:
    """Enqueue fresh jobs for events whose old jobs are finished, failed or gone."""
    for event_id in event_ids:
        try:
            Job.fetch(event_job_id(event_id), connection=runtime.redis).delete()
        except NoSuchJobError:  # the usual case after a Redis loss
            continue
    with runtime.session() as session:
        session.execute(sa.update(WebhookEvent).where(WebhookEvent.id.in_(event_ids)).values(queued_at=utcnow()))
    enqueue_events(runtime, event_ids)


def _release_stuck(runtime: Runtime, cutoff: dt.datetime, limit: int) -> list[int]:
    """Hand events whose worker died mid-job back to ``received``.

    An event is only stuck once it has been ``processing`` for longer than RQ lets a job run, so the
    job that claimed it is certainly gone.
    """
    with runtime.session() as session:
        stuck = list(
            session.scalars(
                sa.select(WebhookEvent.id)
                .where(WebhookEvent.status == EventStatus.PROCESSING, WebhookEvent.started_at < cutoff)
                .order_by(WebhookEvent.id)
                .limit(limit)
            )
        )
        if stuck:
            session.execute(
                sa.update(WebhookEvent)
                .where(
                    WebhookEvent.id.in_(stuck),
                    WebhookEvent.status == EventStatus.PROCESSING,
                    WebhookEvent.started_at < cutoff,
                )
                .values(status=EventStatus.RECEIVED, last_error="worker died while processing; re-queued")
            )
    return stuck


def processing_timeout(runtime: Runtime) -> dt.timedelta:
    """Longer than RQ lets one event job run (it kills the job at its timeout), plus a margin."""
    return dt.timedelta(seconds=runtime.settings.job_timeout + 60)


def sweep(runtime: Runtime, now: dt.datetime | None = None, limit: int = 1000) -> SweepReport:
    """Re-enqueue events that were queued long ago but have no live job, and events stuck in
    ``processing`` past the processing timeout (their worker died)."""
    now = now or utcnow()
    stale = now - dt.timedelta(seconds=runtime.settings.stale_after)
    stuck = _release_stuck(runtime, now - processing_timeout(runtime), limit)
    with runtime.session() as session:
        waiting = list(
            session.scalars(
                sa.select(WebhookEvent.id)
                .where(
                    WebhookEvent.status == EventStatus.RECEIVED,
                    WebhookEvent.queued_at < stale,
                    WebhookEvent.id.not_in(stuck) if stuck else sa.true(),
                    sa.or_(WebhookEvent.retry_at.is_(None), WebhookEvent.retry_at <= now),
                )
                .order_by(WebhookEvent.id)
                .limit(limit)
            )
        )
    live = _live_jobs(runtime, waiting)
    lost = stuck + [i for i in waiting if i not in live]
    if lost:
        log.warning("sweep: re-enqueueing %d events (%d stuck in processing)", len(lost), len(stuck))
        requeue(runtime, lost)
    return SweepReport(requeued=lost, still_queued=len(live))
