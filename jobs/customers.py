"""Customer maintenance, run by the scheduler through RQ."""

from __future__ import annotations

from integration.core.runtime import get_runtime
from integration.customers.segments import refresh_all_segments


def refresh_segments() -> int:
    """Recompute every shop's VIP threshold and its customers' segments; returns shops refreshed."""
    return refresh_all_segments(get_runtime())
