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
from collections.abc import Sequence
from typing import Final

from redis import Redis
from rq import Retry
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
