"""The shops domain's jobs: each active shop's webhook subscriptions checked and repaired."""

from __future__ import annotations

from integration.core.periodic import Periodic, PerShopJob
from integration.core.queues import BULK

CHECK_SUBSCRIPTIONS = PerShopJob(
    "jobs.shops.check_shop_subscriptions",
    prefix="subscriptions",
    timeout=300,
    queue=BULK,  # a few API calls per shop, never urgent
    retry_intervals=(60, 300, 900),
)

PER_SHOP = (CHECK_SUBSCRIPTIONS,)
PERIODIC = (
    Periodic("jobs.shops.check_all_subscriptions", every=lambda settings: settings.subscriptions_interval, timeout=300),
)
