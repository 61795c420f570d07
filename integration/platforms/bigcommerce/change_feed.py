"""BigCommerce's half of reconciliation: ``/v2/orders`` and ``/v3/customers`` modified since a moment."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

from integration.platforms.bigcommerce import adapter as bc
from integration.platforms.bigcommerce import topics
from integration.platforms.bigcommerce.client import BigCommerceClient
from integration.platforms.interfaces import Changed

BC_PAGE_SIZE = 250  # the maximum of both /v2/orders and /v3/customers


def _utc_stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        return topics.RECONCILE_ORDER if resource == "orders" else topics.RECONCILE_CUSTOMER

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
