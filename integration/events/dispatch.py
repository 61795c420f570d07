"""Handing stored events to RQ: the relay (new rows, in batches) and the sweep (lost or stuck rows).

The request path only writes rows. The relay claims rows nobody has queued yet by stamping
``queued_at`` and enqueues them with one ``enqueue_many`` pipeline per batch. If Redis refuses, the
stamps are taken back and the rows wait. The sweep covers whatever slips through anyway: a Redis that
lost its data, a relay killed between stamp and enqueue, a worker killed mid-job.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import redis
import sqlalchemy as sa
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.queue import EnqueueData
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

from integration.core.config import Settings
from integration.core.db import utcnow
from integration.core.queues import (
    BULK,
    EVENT_BATCH,
    EVENTS,
    PROCESS_EVENT,
    PROCESS_EVENTS,
    batch_job_id,
    event_job_id,
    event_retry,
)
from integration.core.runtime import Runtime
from integration.events.models import EventStatus, WebhookEvent

log = logging.getLogger(__name__)

RELAY_BATCH = 500
# Topics of the events reconciliation writes (``reconcile/order``, ``reconcile/customer``) on both platforms.
RECONCILE_TOPIC_PREFIX = "reconcile/"
# Jobs in these states are alive in Redis: the event will be processed without our help.
LIVE_JOB_STATES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def queue_for(topic: str) -> str:
    """Webhooks are real-time work; what reconciliation found (a backfill can be thousands of events, each
    a read-back paced by the store's quota) is bulk work, processed where it never delays a webhook."""
    return BULK if topic.startswith(RECONCILE_TOPIC_PREFIX) else EVENTS


def _topics(runtime: Runtime, event_ids: Sequence[int]) -> dict[int, str]:
    with runtime.session() as session:
        rows = session.execute(sa.select(WebhookEvent.id, WebhookEvent.topic).where(WebhookEvent.id.in_(event_ids)))
        return {event_id: topic for event_id, topic in rows}


def enqueue_events(
    runtime: Runtime, event_ids: Sequence[int], topics: Mapping[int, str] | None = None, *, batch: bool = True
) -> None:
    """Enqueue the events' processing jobs on their queues (``queue_for``), in one Redis pipeline: on the
    events queue one job per ``EVENT_BATCH`` events (in id order), on the bulk queue one job per event
    (each a read-back paced by its store's quota). ``batch=False``: one job per event everywhere (the
    sweep's re-queues: few, and each findable by its ``event_job_id``)."""
    if not event_ids:
        return
    if topics is None:
        topics = _topics(runtime, event_ids)
    settings = runtime.settings
    by_queue: dict[str, list[int]] = {}
    for event_id in event_ids:
        by_queue.setdefault(queue_for(topics.get(event_id, "")), []).append(event_id)
    with runtime.redis.pipeline() as pipe:
        for name, ids in by_queue.items():
            queue = runtime.queue(name)
            if name == EVENTS and batch:
                batches = [sorted(ids[i : i + EVENT_BATCH]) for i in range(0, len(ids), EVENT_BATCH)]
                jobs = [_prepare_batch(queue, settings, batch) for batch in batches]
            else:
                jobs = [_prepare(queue, settings, event_id) for event_id in ids]
            queue.enqueue_many(jobs, pipeline=pipe)
        pipe.execute()


def _prepare(queue: Queue, settings: Settings, event_id: int) -> EnqueueData:
    return queue.prepare_data(
        PROCESS_EVENT,
        args=(event_id,),
        job_id=event_job_id(event_id),
        timeout=settings.job_timeout,
        retry=event_retry(settings.max_attempts),
        result_ttl=3600,
        failure_ttl=30 * 24 * 3600,
        description=f"process webhook event {event_id}",
    )


def _prepare_batch(queue: Queue, settings: Settings, event_ids: list[int]) -> EnqueueData:
    # No Retry on the batch: processing hands an event that failed to a job of its own with the Retry
    # policy (``EventProcessor.process_batch``), so one bad event never re-runs its neighbours.
    return queue.prepare_data(
        PROCESS_EVENTS,
        args=(event_ids,),
        job_id=batch_job_id(event_ids),
        timeout=settings.job_timeout,
        result_ttl=600,
        failure_ttl=30 * 24 * 3600,
        description=f"process {len(event_ids)} webhook events",
    )


def _claim_unqueued(runtime: Runtime, limit: int) -> dict[int, str]:
    """Stamp up to ``limit`` new rows as queued; returns their ids (in order) with their topics."""
    now = utcnow()
    with runtime.session() as session:
        pending = (
            sa.select(WebhookEvent.id, WebhookEvent.topic)
            .where(WebhookEvent.queued_at.is_(None), WebhookEvent.status == EventStatus.RECEIVED)
            .order_by(WebhookEvent.id)
            .limit(limit)
            # Several relays (one per machine) each take different rows on PostgreSQL; SQLite
            # serialises writers anyway and ignores this.
            .with_for_update(skip_locked=True)
        )
        topics = {event_id: topic for event_id, topic in session.execute(pending)}
        if topics:
            session.execute(sa.update(WebhookEvent).where(WebhookEvent.id.in_(topics)).values(queued_at=now))
    return topics


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
    topics = _claim_unqueued(runtime, limit)
    if not topics:
        return 0
    ids = list(topics)
    try:
        enqueue_events(runtime, ids, topics)
    except redis.RedisError:
        _release(runtime, ids)
        raise
    return len(ids)


@dataclass(frozen=True)
class SweepReport:
    requeued: list[int]
    still_queued: int


def _live_jobs(runtime: Runtime, event_ids: Sequence[int]) -> set[int]:
    """Which of these events have a job Redis still knows as waiting, scheduled or running.

    A "queued" job counts only while its queue holds it: a worker killed while blocked in BLPOP can
    leave its connection open (a forked child of it, such as RQ's scheduler, keeps the socket), and
    Redis then hands the next job to that dead connection. The hash still says "queued"; nothing will
    ever run it. (A job a live worker popped this very moment is re-queued at worst: processing an
    event twice is safe, the upserts are idempotent and ordered.)
    """
    if not event_ids:
        return set()
    in_batches = _in_live_batches(runtime) & set(event_ids)
    jobs = Job.fetch_many([event_job_id(i) for i in event_ids], connection=runtime.redis)
    live = {
        event_id: job
        for event_id, job in zip(event_ids, jobs, strict=True)
        if job is not None and job.get_status(refresh=False) in LIVE_JOB_STATES
    }
    queued = [(event_id, job) for event_id, job in live.items() if job.get_status(refresh=False) == JobStatus.QUEUED]
    if queued:
        with runtime.redis.pipeline(transaction=False) as pipe:
            for _, job in queued:
                pipe.lpos(runtime.queue(job.origin).key, job.id)
            positions = pipe.execute()
        for (event_id, _), position in zip(queued, positions, strict=True):
            if position is None:
                del live[event_id]
    return set(live) | in_batches


def _in_live_batches(runtime: Runtime) -> set[int]:
    """Events named by a batch job, or by a job of an event that stepped aside for its shop's quota,
    that is waiting in its queue, running, or scheduled. Read from the jobs themselves: only the sweep
    needs this, once a minute, and the request path and the relay keep no per-event records in Redis."""
    covered: set[int] = set()
    for name in (EVENTS, BULK):
        queue = runtime.queue(name)
        job_ids = [*queue.get_job_ids()]
        job_ids += StartedJobRegistry(queue=queue).get_job_ids()
        job_ids += ScheduledJobRegistry(queue=queue).get_job_ids()  # type: ignore[no-untyped-call]
        named = [job_id for job_id in job_ids if job_id.startswith("events-") or "-at-" in job_id]
        for job in Job.fetch_many(named, connection=runtime.redis):
            if job is None or not job.args:
                continue
            if job.func_name == PROCESS_EVENTS:
                covered.update(int(event_id) for event_id in job.args[0])
            elif job.func_name == PROCESS_EVENT:
                covered.add(int(job.args[0]))
    return covered


def requeue(runtime: Runtime, event_ids: Sequence[int]) -> None:
    """Enqueue fresh jobs for events whose old jobs are finished, failed or gone."""
    for event_id in event_ids:
        try:
            Job.fetch(event_job_id(event_id), connection=runtime.redis).delete()
        except NoSuchJobError:  # the usual case after a Redis loss
            continue
    with runtime.session() as session:
        session.execute(sa.update(WebhookEvent).where(WebhookEvent.id.in_(event_ids)).values(queued_at=utcnow()))
    enqueue_events(runtime, event_ids, batch=False)


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
