"""Shopify product types: ``nodes(ids: [...])`` with ``... on Product { productType }``, one call per batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from integration.platforms.catalogue import TITLE_MAX, TYPE_MAX, CatalogueProduct, check_ids, text
from integration.platforms.shopify.client import ShopifyAPIError, ShopifyGraphQL

PRODUCT_GID_PREFIX = "gid://shopify/Product/"

PRODUCT_TYPES_QUERY = """
query ProductTypes($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on Product { legacyResourceId title productType }
  }
}
"""


def shopify_products(client: ShopifyGraphQL, product_ids: Sequence[str]) -> dict[str, CatalogueProduct]:
    """The products among ``product_ids`` that the shop still has, by id (one GraphQL call)."""
    ids = check_ids(product_ids)
    if not ids:
        return {}
    data = client.execute(PRODUCT_TYPES_QUERY, {"ids": [PRODUCT_GID_PREFIX + i for i in ids]}, operation="nodes")
    nodes = data.get("nodes")
    if not isinstance(nodes, list):
        raise ShopifyAPIError("Shopify nodes: unexpected response shape")
    wanted = set(ids)
    found: dict[str, CatalogueProduct] = {}
    # A deleted product comes back as null in its place; match on the id rather than the position
    # so that a reordered or shortened answer can never give one product another's type.
    for node in nodes:
        if not isinstance(node, Mapping):
            continue
        legacy_id = node.get("legacyResourceId")
        product_id = str(legacy_id) if isinstance(legacy_id, str | int) and not isinstance(legacy_id, bool) else ""
        if product_id in wanted:
            found[product_id] = CatalogueProduct(
                product_id, text(node.get("title"), TITLE_MAX), text(node.get("productType"), TYPE_MAX)
            )
    return found
