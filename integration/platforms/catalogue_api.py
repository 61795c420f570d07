"""What a product *is*, read from the platform's catalogue: its title and its type, a batch of ids at a time.

Neither platform's order payload says what kind of product a line is, so the "types bought most" list
needs one catalogue read per product, ever. Both functions take up to :data:`MAX_BATCH` ids and return
the products the platform still has; an id missing from the answer is a product the merchant deleted.

* Shopify: ``nodes(ids: [...])`` with ``... on Product { legacyResourceId title productType }``, one
  GraphQL call per batch (``nodes`` takes at most 250 ids). ``productType`` is free text the merchant
  types in; an empty one means "no type".
* BigCommerce has no product type. Its nearest equivalent is the category, so here a BigCommerce
  product's "type" is the name of its *first* category (the first id in ``categories``). That costs two
  calls per batch: ``GET /v3/catalog/products?id:in=...&include_fields=name,categories`` and then
  ``GET /v3/catalog/trees/categories?category_id:in=...`` for the names (the category-trees endpoint,
  because ``/v3/catalog/categories`` is deprecated). A product in no category has no type.

Errors are the clients' own: TransientPlatformError (try again later), ShopifyAPIError or
BigCommerceAPIError (a refusal, e.g. the ``read_products`` / products read-only scope is missing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from integration.platforms.bigcommerce import BigCommerceClient
from integration.platforms.shopify_api import ShopifyAPIError, ShopifyGraphQL

MAX_BATCH = 250  # Shopify's cap on nodes(ids:), and BigCommerce's on a v3 page
PRODUCT_ID_RE = re.compile(r"[0-9]{1,20}")
PRODUCT_GID_PREFIX = "gid://shopify/Product/"
TYPE_MAX = 255  # products.product_type
TITLE_MAX = 512  # products.title

PRODUCT_TYPES_QUERY = """
query ProductTypes($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on Product { legacyResourceId title productType }
  }
}
"""


@dataclass(frozen=True)
class CatalogueProduct:
    product_id: str  # the numeric id order lines carry
    title: str | None
    product_type: str | None  # None: the product has none (BigCommerce: it is in no category)


def _text(value: object, limit: int) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:limit]


def _check(product_ids: Sequence[str]) -> list[str]:
    ids = list(dict.fromkeys(product_ids))
    if len(ids) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} product ids per call")
    bad = [i for i in ids if not PRODUCT_ID_RE.fullmatch(i)]
    if bad:
        # They end up in a GraphQL id or a query string; callers filter them out first.
        raise ValueError("product ids must be numeric")
    return ids


def shopify_products(client: ShopifyGraphQL, product_ids: Sequence[str]) -> dict[str, CatalogueProduct]:
    """The products among ``product_ids`` that the shop still has, by id (one GraphQL call)."""
    ids = _check(product_ids)
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
                product_id, _text(node.get("title"), TITLE_MAX), _text(node.get("productType"), TYPE_MAX)
            )
    return found


def _all_pages(client: BigCommerceClient, path: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
    # One page is expected (ids <= limit), but a store that answered with more pages must not make
    # the rest look deleted.
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        batch, more = client.get_v3_page(path, {**params, "page": str(page), "limit": str(MAX_BATCH)})
        items.extend(batch)
        if not more:
            return items
        page += 1


def _first_category(product: Mapping[str, Any]) -> str | None:
    categories = product.get("categories")
    if not isinstance(categories, list) or not categories:
        return None
    first = categories[0]
    if isinstance(first, bool) or not isinstance(first, int | str):
        return None
    text = str(first).strip()
    return text if PRODUCT_ID_RE.fullmatch(text) else None


def bigcommerce_products(client: BigCommerceClient, product_ids: Sequence[str]) -> dict[str, CatalogueProduct]:
    """The products among ``product_ids`` that the store still has, by id, each typed by the name of
    its first category (BigCommerce has no product type). Two calls: products, then category names."""
    ids = _check(product_ids)
    if not ids:
        return {}
    products = _all_pages(client, "/v3/catalog/products", {"id:in": ",".join(ids), "include_fields": "name,categories"})
    wanted = set(ids)
    first_category: dict[str, str | None] = {}
    titles: dict[str, str | None] = {}
    for product in products:
        product_id = str(product.get("id"))
        if product_id in wanted:  # a filter the API ignored must not type strangers
            first_category[product_id] = _first_category(product)
            titles[product_id] = _text(product.get("name"), TITLE_MAX)
    category_ids = sorted({c for c in first_category.values() if c is not None}, key=int)
    names: dict[str, str | None] = {}
    if category_ids:
        categories = _all_pages(
            client,
            "/v3/catalog/trees/categories",
            {"category_id:in": ",".join(category_ids), "include_fields": "name"},
        )
        for category in categories:
            category_id = category.get("category_id", category.get("id"))
            names[str(category_id)] = _text(category.get("name"), TYPE_MAX)
    # A category deleted between the two calls leaves its products without a type, like no category.
    return {
        product_id: CatalogueProduct(product_id, titles[product_id], names.get(category) if category else None)
        for product_id, category in first_category.items()
    }


__all__ = ["MAX_BATCH", "PRODUCT_ID_RE", "CatalogueProduct", "bigcommerce_products", "shopify_products"]
