"""Processing of stored webhook events."""

from __future__ import annotations

from rq import get_current_job

from integration.processing import EventProcessor
from integration.runtime import get_runtime


def process_event(event_id: int) -> str:
    """Process one stored event (RQ retries it with backoff when this raises)."""
    job = get_current_job()
    retries_left = job.retries_left if job is not None else None
    return EventProcessor(get_runtime()).process(event_id, retries_left=retries_left).value
