"""Stored webhook events: processing them, and the sweep that rescues lost or stuck ones."""

from __future__ import annotations

from rq import get_current_job

from integration.core.runtime import get_runtime
from integration.events.dispatch import sweep
from integration.events.processing import EventProcessor


def process_event(event_id: int) -> str:
    """Process one stored event (RQ retries it with backoff when this raises)."""
    job = get_current_job()
    retries_left = job.retries_left if job is not None else None
    return EventProcessor(get_runtime()).process(event_id, retries_left=retries_left).value


def process_events(event_ids: list[int]) -> dict[str, int]:
    """Process a batch of stored events (each failure is retried by a job of its own); counts by outcome."""
    outcomes = EventProcessor(get_runtime()).process_batch(event_ids)
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome.value] = counts.get(outcome.value, 0) + 1
    return counts


def sweep_events() -> dict[str, int]:
    """Re-enqueue events that Redis lost or a dead worker left behind."""
    report = sweep(get_runtime())
    return {"requeued": len(report.requeued), "still_queued": report.still_queued}
