"""BigCommerce product "types": the name of a product's first category (BigCommerce has no product type)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from integration.platforms.bigcommerce.client import BigCommerceClient
from integration.platforms.catalogue import (
    MAX_BATCH,
    PRODUCT_ID_RE,
    TITLE_MAX,
    TYPE_MAX,
    CatalogueProduct,
    check_ids,
    text,
)


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
    ids = check_ids(product_ids)
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
            titles[product_id] = text(product.get("name"), TITLE_MAX)
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
            names[str(category_id)] = text(category.get("name"), TYPE_MAX)
    # A category deleted between the two calls leaves its products without a type, like no category.
    return {
        product_id: CatalogueProduct(product_id, titles[product_id], names.get(category) if category else None)
        for product_id, category in first_category.items()
    }
