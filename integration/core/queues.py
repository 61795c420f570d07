"""Queue names and the event job's policy (the per-shop and periodic jobs are declared beside their
domains, in ``<domain>/tasks.py``; see ``integration.core.periodic``).

Four queues, so that no kind of work waits behind another:
* ``maintenance``: the sweep and the cron fan-outs. Short; served first by the events worker, so a backlog
  of events never starves the sweep that rescues lost ones.
* ``events``: processing stored webhooks, the real-time work.
* ``bulk``: reconciliation and backfill, write-back, the catalogue, subscription checks. Paced by the
  platforms' API quotas and bounded per job (a job that has more to do re-enqueues itself), served by a
  worker process of its own, so a store's backfill never holds up any shop's webhooks.
* ``mail``: sending email from the outbox and pushing consent changes to the platforms. Served by the events
  worker after events: an SMTP server that is slow to answer never delays a webhook.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Final

from redis import Redis
from rq import Queue, Retry
from rq.job import Job, JobStatus

MAINTENANCE: Final = "maintenance"
EVENTS: Final = "events"
BULK: Final = "bulk"
MAIL: Final = "mail"
ALL: Final = (MAINTENANCE, EVENTS, MAIL, BULK)
# What each kind of worker process serves, in priority order (``flask --app integration worker --kind``).
WORKER_KINDS: Final = {"events": (MAINTENANCE, EVENTS, MAIL), "bulk": (BULK,), "all": ALL}

# Jobs are enqueued by dotted path so that integration/ never imports jobs/.
PROCESS_EVENT: Final = "jobs.events.process_event"
# The relay's job: a batch of events of the events queue (one claim, one read, RQ's cost paid once).
PROCESS_EVENTS: Final = "jobs.events.process_events"
# Events per batch job. Big enough that RQ's own cost per job (~3 ms: several Redis round trips) is small
# beside the events' work; small enough that a batch is done in well under a second, so the next batch
# (another shop's events) starts soon and a stopping worker finishes its job quickly.
EVENT_BATCH: Final = 50

# Backoff between attempts of one event (seconds); RQ reuses the last value for later attempts.
RETRY_INTERVALS: Final = (10, 60, 300, 900, 3600)


def event_job_id(event_id: int) -> str:
    """Deterministic job id, so the sweep and ops can find an event's job (ids allow no dots)."""
    return f"event-{event_id}"


def batch_job_id(event_ids: Sequence[int]) -> str:
    """A batch's job id names its first and last event and its size (the sweep reads the ids from the job)."""
    return f"events-{event_ids[0]}-{event_ids[-1]}-{len(event_ids)}"


def step_aside_job_id(event_id: int, at: dt.datetime) -> str:
    """The job of an event that stepped aside for its shop's API quota, scheduled for ``at``."""
    return f"event-{event_id}-at-{int(at.timestamp() * 1000)}"


def event_retry(max_attempts: int) -> Retry | None:
    retries = max_attempts - 1
    return Retry(max=retries, interval=list(RETRY_INTERVALS)) if retries > 0 else None


# A job in one of these states will still run: enqueueing its id again would only run the work twice.
LIVE_JOB_STATES: Final = frozenset({JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED})


def live_job_ids(redis: Redis, job_ids: Sequence[str]) -> set[str]:
    """Which of these deterministic job ids Redis holds a job for that will still run (one round trip):
    the relays and sweeps enqueue the rest again, after Redis lost them or they ended."""
    jobs = Job.fetch_many(list(job_ids), connection=redis) if job_ids else []
    return {job.id for job in jobs if job is not None and job.get_status(refresh=False) in LIVE_JOB_STATES}


def enqueue_missing(
    queue: Queue,
    func: str,
    row_ids: Sequence[int],
    *,
    job_id: Callable[[int], str],
    description: str,
    retry_intervals: Sequence[int],
    timeout: int = 120,
) -> int:
    """One job per row (``func(row_id)``, job id ``job_id(row_id)``) for the rows whose job Redis does not
    hold live, in one pipeline; returns how many were enqueued. The rows are the truth: a relay calls
    this again for what is still pending, so a job Redis lost is queued again, never twice at once.
    ``description`` is formatted with the row id (ids only: never a customer's data)."""
    if not row_ids:
        return 0
    live = live_job_ids(queue.connection, [job_id(i) for i in row_ids])
    waiting = [i for i in row_ids if job_id(i) not in live]
    if not waiting:
        return 0
    with queue.connection.pipeline() as pipe:
        queue.enqueue_many(
            [
                queue.prepare_data(
                    func,
                    args=(row_id,),
                    job_id=job_id(row_id),
                    timeout=timeout,
                    retry=Retry(max=len(retry_intervals), interval=list(retry_intervals)),
                    result_ttl=3600,
                    failure_ttl=30 * 24 * 3600,
                    description=description.format(row_id),
                )
                for row_id in waiting
            ],
            pipeline=pipe,
        )
        pipe.execute()
    return len(waiting)
