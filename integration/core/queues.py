"""Queue names and job policies, named in one place (the worker listens to ``ALL``, in this order)."""

from __future__ import annotations

from typing import Final

from rq import Retry

# Maintenance first: a backlog of events must never starve the sweep that rescues lost ones.
MAINTENANCE: Final = "maintenance"
EVENTS: Final = "events"
ALL: Final = (MAINTENANCE, EVENTS)

# Jobs are enqueued by dotted path so that integration/ never imports jobs/.
PROCESS_EVENT: Final = "jobs.events.process_event"
SWEEP_EVENTS: Final = "jobs.events.sweep_events"
REFRESH_SEGMENTS: Final = "jobs.customers.refresh_segments"
SEGMENTS_INTERVAL: Final = 3600  # seconds
RECONCILE_ALL: Final = "jobs.sync.reconcile_all"
RECONCILE_SHOP: Final = "jobs.sync.reconcile_shop"
WRITE_BACK_ALL: Final = "jobs.sync.write_back_all"
WRITE_BACK_SHOP: Final = "jobs.sync.write_back_shop"

# Backoff between attempts of one event (seconds); RQ reuses the last value for later attempts.
RETRY_INTERVALS: Final = (10, 60, 300, 900, 3600)


def event_job_id(event_id: int) -> str:
    """Deterministic job id, so the sweep and ops can find an event's job (ids allow no dots)."""
    return f"event-{event_id}"


def event_retry(max_attempts: int) -> Retry | None:
    retries = max_attempts - 1
    return Retry(max=retries, interval=list(RETRY_INTERVALS)) if retries > 0 else None


# Product types for profiles: a cron fan-out enqueues one catalogue job per active shop.
FETCH_ALL_PRODUCT_TYPES: Final = "jobs.sync.fetch_all_product_types"
FETCH_PRODUCT_TYPES: Final = "jobs.sync.fetch_product_types"
PRODUCT_TYPES_INTERVAL: Final = 600  # seconds
PRODUCT_TYPES_JOB_PREFIX: Final = "product-types"  # job id "product-types-{shop_id}": one per shop at a time


def product_types_job_id(shop_id: int) -> str:
    return f"{PRODUCT_TYPES_JOB_PREFIX}-{shop_id}"


# Webhook subscription health: a cron fan-out enqueues one check per active shop.
CHECK_ALL_SUBSCRIPTIONS: Final = "jobs.shops.check_all_subscriptions"
CHECK_SHOP_SUBSCRIPTIONS: Final = "jobs.shops.check_shop_subscriptions"
SUBSCRIPTIONS_JOB_PREFIX: Final = "subscriptions"  # job id "subscriptions-{shop_id}"

# Job-id prefixes of the per-shop jobs (``{prefix}-{shop_id}``): what an uninstall cancels.
PER_SHOP_JOB_PREFIXES: Final = ("reconcile", "writeback-shop", PRODUCT_TYPES_JOB_PREFIX, SUBSCRIPTIONS_JOB_PREFIX)
