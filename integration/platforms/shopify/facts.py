"""The shop's own facts over the GraphQL Admin API (``shop``), read at install and at every subscription check."""

from __future__ import annotations

from collections.abc import Mapping

from integration.platforms.interfaces import ShopFacts
from integration.platforms.shop_facts import facts_from
from integration.platforms.shopify.client import ShopifyAPIError, ShopifyGraphQL

SHOP_QUERY = """
query ShopFacts {
  shop { name ianaTimezone currencyCode email primaryDomain { host } }
}
"""


def shopify_shop_facts(client: ShopifyGraphQL) -> ShopFacts:
    """Raises TransientPlatformError or ShopifyAPIError."""
    data = client.execute(SHOP_QUERY, operation="shop")
    shop = data.get("shop")
    if not isinstance(shop, Mapping):
        raise ShopifyAPIError("Shopify shop: unexpected response shape")
    domain = shop.get("primaryDomain")
    return facts_from(
        name=shop.get("name"),
        time_zone=shop.get("ianaTimezone"),
        currency=shop.get("currencyCode"),
        owner_email=shop.get("email"),
        primary_domain=domain.get("host") if isinstance(domain, Mapping) else None,
    )
