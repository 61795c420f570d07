"""Reconciliation jobs: the scheduled fan-out and the per-shop run."""

from __future__ import annotations

from integration.reconcile import enqueue_reconciliations
from integration.reconcile import reconcile_shop as reconcile
from integration.runtime import get_runtime


def reconcile_all() -> int:
    """Enqueue one reconciliation per installed shop; returns how many were enqueued."""
    return len(enqueue_reconciliations(get_runtime()))


def reconcile_shop(shop_id: int) -> dict[str, object]:
    """Store events for what the shop changed since its cursor (RQ retries platform outages)."""
    return reconcile(get_runtime(), shop_id).as_dict()
