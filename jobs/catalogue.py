"""The product catalogue: product types for "the types a customer bought most"."""

from __future__ import annotations

from typing import Any

from integration.catalogue import enqueue_product_type_jobs
from integration.catalogue import fetch_product_types as fetch_shop_product_types
from integration.runtime import get_runtime


def fetch_product_types(shop_id: int) -> dict[str, Any]:
    """Fetch the types of one shop's bought products not looked up yet (RQ retries a transient failure)."""
    return fetch_shop_product_types(get_runtime(), shop_id).as_dict()


def fetch_all_product_types() -> int:
    """Cron: enqueue one ``fetch_product_types`` job per active shop; returns how many were enqueued."""
    return enqueue_product_type_jobs(get_runtime())
