"""Periodic maintenance, run by the scheduler through RQ."""

from __future__ import annotations

from integration.dispatch import sweep
from integration.runtime import get_runtime


def sweep_events() -> dict[str, int]:
    """Re-enqueue events that Redis lost or a dead worker left behind."""
    report = sweep(get_runtime())
    return {"requeued": len(report.requeued), "still_queued": report.still_queued}
