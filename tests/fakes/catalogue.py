"""The two platforms' product catalogues, added to the real-HTTP fakes for the product-types tests.

* :class:`CatalogueShopify` is a :class:`FakeShopify` that also answers the ``nodes(ids: [...])`` root
  field for products: one entry per id asked for, in order, ``null`` for a product the shop does not
  have (deleted), as Shopify does. Every other operation goes to FakeShopify unchanged (token check,
  bucket, scripted responses and recording included). ``fail_nodes_after = n`` answers every
  ``nodes`` call after the first ``n`` with a 429 whose Retry-After is past the client's patience, so
  the client gives up at once with TransientPlatformError.
* :class:`CatalogueBigCommerce` is a :class:`FakeBigCommerce` with ``GET /v3/catalog/products``
  (``id:in``, ``include_fields``, ``page``/``limit``) and ``GET /v3/catalog/trees/categories``
  (``category_id:in``), v3-shaped with ``meta.pagination``.

They are subclasses rather than edits of the base fakes; the suite's one server per platform
(``tests/platform_fixtures.py``) is built from them, so their routes exist before the first request
(Flask takes no new routes once an app has served one).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from flask import Response, g, request

from tests.fakes.bigcommerce_api import FakeBigCommerce
from tests.fakes.server import scripted_response as _response
from tests.fakes.shopify_admin import FakeShopify, root_field

PRODUCT_GID = "gid://shopify/Product/"
NODES_MAX_IDS = 250
V3_MAX_LIMIT = 250


class CatalogueShopify(FakeShopify):
    name = "fake-shopify-catalogue"

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.costs["nodes"] = 10
            self._products: dict[tuple[str, str], dict[str, Any]] = {}
            self.fail_nodes_after: int | None = None
            self._nodes_served = 0

    def add_product(self, shop: str, product_id: str | int, title: str, product_type: str = "") -> None:
        """A product; ``product_type=""`` is how Shopify sends a product without a type."""
        product_id = str(product_id)
        with self._lock:
            self._products[(shop, product_id)] = {
                "id": PRODUCT_GID + product_id,
                "legacyResourceId": product_id,
                "title": title,
                "productType": product_type,
            }

    def nodes_requests(self) -> list[Any]:
        return self.graphql_requests("nodes")

    def _graphql(self, version: str, shop: str | None = None) -> Response:
        body = request.get_json(silent=True)
        query = body.get("query") if isinstance(body, dict) else None
        if not isinstance(query, str) or root_field(query) != "nodes":
            return super()._graphql(version, shop)
        ids = (body.get("variables") or {}).get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or len(ids) > NODES_MAX_IDS:
            error = {"message": "ids: expected a list of at most 250 IDs", "extensions": {"code": "argumentError"}}
            return _response(200, {"errors": [error]})
        with self._lock:
            if self.fail_nodes_after is not None and self._nodes_served >= self.fail_nodes_after:
                return _response(429, {"errors": "Exceeded rate limit"}, {"Retry-After": "3600"})
            state = self._shop(g.shop)
            cost = self._spend(state, "nodes")
            if cost["actualQueryCost"] is None:
                error = {"message": "Throttled", "extensions": {"code": "THROTTLED"}}
                return _response(200, {"errors": [error], "extensions": {"cost": cost}})
            self._nodes_served += 1
            nodes = [self._node(g.shop, gid) for gid in ids]
        return _response(200, {"data": {"nodes": nodes}, "extensions": {"cost": cost}})

    def _node(self, shop: str, gid: object) -> dict[str, Any] | None:
        if not isinstance(gid, str) or not gid.startswith(PRODUCT_GID):
            return None
        product = self._products.get((shop, gid[len(PRODUCT_GID) :]))
        return copy.deepcopy(product) if product is not None else None


class CatalogueBigCommerce(FakeBigCommerce):
    name = "fake-bigcommerce-catalogue"

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._catalogue: dict[str, dict[str, dict[int, dict[str, Any]]]] = {}

    def add_product(self, store_hash: str, product_id: int, name: str, categories: list[int] | None = None) -> None:
        with self._lock:
            products = self._catalogue.setdefault(store_hash, {}).setdefault("products", {})
            products[product_id] = {
                "id": product_id,
                "name": name,
                "type": "physical",
                "sku": f"SKU-{product_id}",
                "categories": list(categories or []),
            }

    def add_category(self, store_hash: str, category_id: int, name: str, tree_id: int = 1) -> None:
        with self._lock:
            categories = self._catalogue.setdefault(store_hash, {}).setdefault("categories", {})
            categories[category_id] = {
                "category_id": category_id,
                "tree_id": tree_id,
                "parent_id": 0,
                "name": name,
                "is_visible": True,
            }

    def _install_routes(self) -> None:
        super()._install_routes()
        self.app.add_url_rule("/stores/<store_hash>/v3/catalog/products", view_func=self._catalog_products)
        self.app.add_url_rule("/stores/<store_hash>/v3/catalog/trees/categories", view_func=self._tree_categories)

    def _catalog_products(self, store_hash: str) -> Response:
        with self._lock:
            self._store(store_hash)
            items = self._catalogue.get(store_hash, {}).get("products", {})
            found = _filtered(items, "id:in")
        fields = {f for f in request.args.get("include_fields", "").split(",") if f}
        if fields:  # the id always comes back, whatever include_fields says
            found = [{k: v for k, v in item.items() if k == "id" or k in fields} for item in found]
        return _v3_page(found)

    def _tree_categories(self, store_hash: str) -> Response:
        with self._lock:
            self._store(store_hash)
            items = self._catalogue.get(store_hash, {}).get("categories", {})
            found = _filtered(items, "category_id:in")
        fields = {f for f in request.args.get("include_fields", "").split(",") if f}
        if fields:
            found = [{k: v for k, v in item.items() if k == "category_id" or k in fields} for item in found]
        return _v3_page(found)


def _filtered(items: Mapping[int, dict[str, Any]], param: str) -> list[dict[str, Any]]:
    raw = request.args.get(param)
    wanted = {int(i) for i in raw.split(",") if i.strip().isdigit()} if raw is not None else None
    return [copy.deepcopy(item) for key, item in sorted(items.items()) if wanted is None or key in wanted]


def _v3_page(items: list[dict[str, Any]]) -> Response:
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    limit = min(max(request.args.get("limit", 50, type=int) or 50, 1), V3_MAX_LIMIT)
    total_pages = max((len(items) + limit - 1) // limit, 1)
    chunk = items[(page - 1) * limit : page * limit]
    pagination = {
        "total": len(items),
        "count": len(chunk),
        "per_page": limit,
        "current_page": page,
        "total_pages": total_pages,
    }
    return _response(200, {"data": chunk, "meta": {"pagination": pagination}})
