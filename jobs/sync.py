"""Sync with the platforms, run by RQ: reconciliation, write-back and the product catalogue.

Each per-shop job takes the shop's id only; the fan-outs enqueue one per active shop.
"""

from __future__ import annotations

from typing import Any

from rq import get_current_job

from integration.core.runtime import get_runtime
from integration.sync import catalogue, reconcile, writeback


def reconcile_all() -> int:
    """Enqueue one reconciliation per installed shop; returns how many were enqueued."""
    return len(reconcile.enqueue_reconciliations(get_runtime()))


def reconcile_shop(shop_id: int) -> dict[str, object]:
    """Store events for what the shop changed since its cursor, one time slice (it queues its own
    continuation); RQ retries platform outages."""
    job = get_current_job()
    return reconcile.reconcile_slice(get_runtime(), shop_id, job.id if job is not None else None).as_dict()


def write_back_shop(shop_id: int) -> dict[str, object]:
    """Write one shop's changed customers; raises TransientPlatformError so RQ retries it later."""
    return writeback.write_back_shop(get_runtime(), shop_id).as_dict()


def write_back_all() -> int:
    """The cron job: one write-back job per active shop (none while its last one is alive)."""
    return len(writeback.enqueue_all(get_runtime()))


def fetch_product_types(shop_id: int) -> dict[str, Any]:
    """Fetch the types of one shop's bought products not looked up yet (RQ retries a transient failure)."""
    return catalogue.fetch_product_types(get_runtime(), shop_id).as_dict()


def fetch_all_product_types() -> int:
    """Cron: enqueue one ``fetch_product_types`` job per active shop; returns how many were enqueued."""
    return catalogue.enqueue_product_type_jobs(get_runtime())
