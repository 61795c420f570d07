"""Write-back of customers' segment and rep to the platforms, run by RQ (see integration.writeback)."""

from __future__ import annotations

from integration.runtime import get_runtime
from integration.writeback import enqueue_all
from integration.writeback import write_back_shop as write_back


def write_back_shop(shop_id: int) -> dict[str, object]:
    """Write one shop's changed customers; raises TransientPlatformError so RQ retries it later."""
    return write_back(get_runtime(), shop_id).as_dict()


def write_back_all() -> int:
    """The cron job: one write-back job per active shop (none while its last one is alive)."""
    return len(enqueue_all(get_runtime()))
