"""The store's own facts from ``GET /v2/store`` (scope ``store_v2_information_read_only``; research
bigcommerce.md §3.7, next-capabilities.md §4.7), read at install and at every subscription check."""

from __future__ import annotations

from collections.abc import Mapping

from integration.platforms.bigcommerce.client import UNEXPECTED_BODY, BigCommerceAPIError, BigCommerceClient
from integration.platforms.interfaces import ShopFacts
from integration.platforms.shop_facts import facts_from

STORE_PATH = "/v2/store"


def bigcommerce_store_facts(client: BigCommerceClient) -> ShopFacts:
    """Raises TransientPlatformError, NotFoundAtPlatform or BigCommerceAPIError (403 when the app was
    not granted ``store_v2_information_read_only``)."""
    store = client.request("GET", STORE_PATH)
    if not isinstance(store, Mapping):
        raise BigCommerceAPIError("GET", STORE_PATH, 200, UNEXPECTED_BODY)
    zone = store.get("timezone")
    return facts_from(
        name=store.get("name"),
        time_zone=zone.get("name") if isinstance(zone, Mapping) else None,  # the offsets are not date-aware
        currency=store.get("currency"),
        owner_email=store.get("admin_email"),
        primary_domain=store.get("domain"),
    )
