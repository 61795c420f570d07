"""What each platform changed since a moment, page by page: the platform half of reconciliation.

A feed lists ``(id, updated_at)`` of orders or customers changed since a time, oldest first, and says
how reconciliation should phrase the event that stands in for a missed webhook (topic and body). The
rest (cursors, skipping what is already current, storing events) is platform-neutral and lives in
``integration.reconcile``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from integration.platforms import bigcommerce as bc
from integration.platforms import shopify
from integration.platforms.bigcommerce import BigCommerceClient
from integration.platforms.shopify_api import MAX_PAGE_SIZE, ShopifyGraphQL

RESOURCES = ("orders", "customers")
BC_PAGE_SIZE = 250  # the maximum of both /v2/orders and /v3/customers


@dataclass(frozen=True)
class Changed:
    id: str
    updated_at: dt.datetime


class ChangeFeed(Protocol):
    def pages(self, resource: str, since: dt.datetime) -> Iterator[list[Changed]]:
        """Pages of what changed at or after ``since`` (may repeat an item; never skips one)."""
        ...

    def topic(self, resource: str) -> str: ...

    def body(self, resource: str, resource_id: str) -> bytes: ...

    def close(self) -> None: ...


def _utc_stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        return shopify.RECONCILE_ORDER if resource == "orders" else shopify.RECONCILE_CUSTOMER

    def body(self, resource: str, resource_id: str) -> bytes:
        return json.dumps({"id": int(resource_id)}).encode()

    def close(self) -> None:
        self._client.close()


class BigCommerceFeed:
    """``GET /v2/orders?min_date_modified=`` and ``GET /v3/customers?date_modified:min=``, oldest first."""

    def __init__(self, client: BigCommerceClient) -> None:
        self._client = client

    def pages(self, resource: str, since: dt.datetime) -> Iterator[list[Changed]]:
        page = 1
        while True:
            if resource == "orders":
                # v2 answers a page past the end with 204 (an empty list here).
                params = {"min_date_modified": _utc_stamp(since), "sort": "date_modified:asc"}
                params |= {"page": str(page), "limit": str(BC_PAGE_SIZE)}
                items = self._client.get_list("/v2/orders", params)
                changed = [_changed(item, bc.parse_rfc2822) for item in items]
                more = len(items) == BC_PAGE_SIZE
            else:
                params = {"date_modified:min": _utc_stamp(since), "sort": "date_modified:asc"}
                params |= {"page": str(page), "limit": str(BC_PAGE_SIZE)}
                items, more = self._client.get_v3_page("/v3/customers", params)
                changed = [_changed(item, bc.parse_iso8601) for item in items]
            yield [c for c in changed if c is not None]
            if not more:
                return
            page += 1

    def topic(self, resource: str) -> str:
        return bc.RECONCILE_ORDER if resource == "orders" else bc.RECONCILE_CUSTOMER

    def body(self, resource: str, resource_id: str) -> bytes:
        kind = "order" if resource == "orders" else "customer"
        return json.dumps({"data": {"type": kind, "id": int(resource_id)}}).encode()

    def close(self) -> None:
        self._client.close()


def _changed(item: dict[str, Any], parse: Callable[[object], dt.datetime | None]) -> Changed | None:
    resource_id = bc.resource_id(item.get("id"))
    updated_at = parse(item.get("date_modified"))
    if resource_id is None or updated_at is None:
        return None
    return Changed(resource_id, updated_at)
