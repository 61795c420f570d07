"""The sync domain's jobs: reconciliation (and backfill), write-back and the catalogue, one per shop.

All run on the bulk queue: they are paced by the platforms' quotas, and each is bounded (a page of
customers, a few batches of products, a time slice of reconciliation) so it never holds a worker long.
"""

from __future__ import annotations

from integration.core.periodic import Periodic, PerShopJob, every
from integration.core.queues import BULK

RECONCILE = PerShopJob(
    "jobs.sync.reconcile_shop", prefix="reconcile", timeout=900, queue=BULK, retry_intervals=(60, 300, 900)
)
WRITE_BACK = PerShopJob(
    "jobs.sync.write_back_shop", prefix="writeback-shop", timeout=900, queue=BULK, retry_intervals=(60, 300, 900)
)
# A batch waits at most a minute for Shopify's bucket.
PRODUCT_TYPES = PerShopJob(
    "jobs.sync.fetch_product_types", prefix="product-types", timeout=900, queue=BULK, retry_intervals=(60, 300)
)

PER_SHOP = (RECONCILE, WRITE_BACK, PRODUCT_TYPES)
PERIODIC = (
    Periodic("jobs.sync.reconcile_all", every=lambda settings: settings.reconcile_interval, timeout=300),
    Periodic("jobs.sync.write_back_all", every=lambda settings: settings.writeback_interval, timeout=300),
    Periodic("jobs.sync.fetch_all_product_types", every=every(600), timeout=300),
)
