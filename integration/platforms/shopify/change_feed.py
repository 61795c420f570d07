"""Shopify's half of reconciliation: GraphQL ``orders`` / ``customers`` changed since a moment."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

from integration.platforms.interfaces import Changed
from integration.platforms.shopify import topics
from integration.platforms.shopify.client import MAX_PAGE_SIZE, ShopifyGraphQL


class ShopifyFeed:
    """GraphQL ``orders`` / ``customers`` with ``updated_at:>'…'``, sorted by UPDATED_AT."""

    def __init__(self, client: ShopifyGraphQL) -> None:
        self._client = client

    def pages(self, resource: str, since: dt.datetime) -> Iterator[list[Changed]]:
        list_page = self._client.orders_updated_since if resource == "orders" else self._client.customers_updated_since
        after: str | None = None
        while True:
            page = list_page(since, after=after, first=MAX_PAGE_SIZE)
            yield [Changed(item.id, item.updated_at) for item in page.items]
            if not page.has_next or page.end_cursor is None:
                return
            after = page.end_cursor

    def topic(self, resource: str) -> str:
        return topics.RECONCILE_ORDER if resource == "orders" else topics.RECONCILE_CUSTOMER

    def body(self, resource: str, resource_id: str) -> bytes:
        return json.dumps({"id": int(resource_id)}).encode()

    def close(self) -> None:
        self._client.close()
