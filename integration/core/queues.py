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

from typing import Final

from rq import Retry

MAINTENANCE: Final = "maintenance"
EVENTS: Final = "events"
BULK: Final = "bulk"
MAIL: Final = "mail"
ALL: Final = (MAINTENANCE, EVENTS, MAIL, BULK)
# What each kind of worker process serves, in priority order (``flask --app integration worker --kind``).
WORKER_KINDS: Final = {"events": (MAINTENANCE, EVENTS, MAIL), "bulk": (BULK,), "all": ALL}

# Jobs are enqueued by dotted path so that integration/ never imports jobs/.
PROCESS_EVENT: Final = "jobs.events.process_event"

# Backoff between attempts of one event (seconds); RQ reuses the last value for later attempts.
RETRY_INTERVALS: Final = (10, 60, 300, 900, 3600)


def event_job_id(event_id: int) -> str:
    """Deterministic job id, so the sweep and ops can find an event's job (ids allow no dots)."""
    return f"event-{event_id}"


def event_retry(max_attempts: int) -> Retry | None:
    retries = max_attempts - 1
    return Retry(max=retries, interval=list(RETRY_INTERVALS)) if retries > 0 else None
