"""Periodic maintenance, run by the scheduler through RQ."""

from __future__ import annotations

from integration.dispatch import sweep
from integration.runtime import get_runtime


def sweep_events() -> dict[str, int]:
    """Re-enqueue events that Redis lost or a dead worker left behind."""
    report = sweep(get_runtime())
    return {"requeued": len(report.requeued), "still_queued": report.still_queued}


def refresh_segments() -> int:
    """Recompute every shop's VIP threshold and its customers' segments; returns shops refreshed."""
    import sqlalchemy as sa

    from integration.models import Shop
    from integration.segments import refresh_shop_segments

    runtime = get_runtime()
    with runtime.session() as session:
        shop_ids = list(session.scalars(sa.select(Shop.id)))
    for shop_id in shop_ids:
        with runtime.session() as session:  # one shop per transaction: short locks
            refresh_shop_segments(session, shop_id)
    return len(shop_ids)
