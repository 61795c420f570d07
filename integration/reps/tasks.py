"""The reps domain's jobs: handing a leaver's book over (one job per rep who leaves)."""

from __future__ import annotations

from integration.core.queues import EVENTS
from integration.core.runtime import Runtime

HAND_OVER = "jobs.reps.hand_over"


def enqueue_hand_over(runtime: Runtime, rep_id: int) -> None:
    # On the events queue: a book is at most a few hundred quick updates, and customers should not wait
    # behind a backfill to learn who their new contact is.
    runtime.queue(EVENTS).enqueue(HAND_OVER, rep_id, job_id=f"hand-over-{rep_id}", job_timeout=600, result_ttl=86400)
