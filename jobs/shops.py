"""Shops: webhook subscription health, run by RQ (see integration.shops.subscriptions)."""

from __future__ import annotations

import dataclasses
from typing import Any

from integration.core.runtime import get_runtime
from integration.shops.subscriptions import check_shop, enqueue_checks


def check_shop_subscriptions(shop_id: int) -> dict[str, Any] | None:
    """Check and repair one shop's subscriptions (RQ retries a transient failure); None if not active."""
    report = check_shop(get_runtime(), shop_id)
    return dataclasses.asdict(report) if report is not None else None


def check_all_subscriptions() -> int:
    """Cron: one ``check_shop_subscriptions`` job per active shop (none while its last one is alive)."""
    return len(enqueue_checks(get_runtime()))
