"""A thin BigCommerce REST client, paced by the store's shared quota (``rate_budget``).

The access token and customer data never go into exception messages or logs: errors name the path and
the status.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from integration.core.telemetry import api_call, api_waited
from integration.platforms.bigcommerce.coupons import has_coupon_discount
from integration.platforms.bigcommerce.rate_budget import StoreBudget
from integration.platforms.bigcommerce.topics import STORE_HASH_RE
from integration.platforms.interfaces import NotFoundAtPlatform, PlatformRefused, TransientPlatformError

log = logging.getLogger(__name__)

# (connect, read) seconds: a hung BigCommerce must not hold an RQ worker for minutes.
TIMEOUT = (5.0, 20.0)
PRODUCTS_PAGE_SIZE = 250  # the v2 maximum; the default of 50 would cost extra calls on big orders


# --------------------------------------------------------------------------------------------- client


class BigCommerceAPIError(PlatformRefused):
    """A permanent refusal (401, 403, 422, ...): retrying the same call will not help."""

    def __init__(self, method: str, path: str, status: int, problem: str = "") -> None:
        detail = f" {problem}" if problem else ""
        super().__init__(f"BigCommerce {method} {path} answered {status}{detail}")
        self.path = path
        self.status = status


UNEXPECTED_BODY = "with a body of an unexpected shape"


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds until the quota refills, from the window reset (ms) or else X-Retry-After (s)."""
    reset_ms = _header_number(headers, "X-Rate-Limit-Time-Reset-Ms")
    if reset_ms is not None:
        return max(reset_ms / 1000.0, 0.0)
    retry_after = _header_number(headers, "X-Retry-After")
    return max(retry_after, 0.0) if retry_after is not None else None


class BigCommerceClient:
    """GETs against one store's v2/v3 REST API, paced by the rate-limit headers.

    The quota is shared by every app on the store, so when a response says only ``min_requests_left``
    calls remain, the next call waits for the window to reset instead of burning into a 429. With a
    ``budget`` the count is kept in Redis for all worker processes, and concurrent calls are capped.
    """

    def __init__(
        self,
        api_url: str,
        store_hash: str,
        access_token: str,
        *,
        session: requests.Session | None = None,
        min_requests_left: int = 2,
        max_wait: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        budget: StoreBudget | None = None,
    ) -> None:
        if not STORE_HASH_RE.fullmatch(store_hash):
            raise ValueError("store hash must be 1-64 lowercase letters or digits")
        if budget is not None and budget.store_hash != store_hash:
            raise ValueError("the budget belongs to another store")
        self.store_hash = store_hash
        self._base = f"{api_url.rstrip('/')}/stores/{store_hash}"
        self._token = access_token
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._min_requests_left = min_requests_left
        self._max_wait = max_wait
        self._sleep = sleep
        self._monotonic = monotonic
        self._resume_at: float | None = None
        self._budget = budget

    def uses_token(self, access_token: str) -> bool:
        return self._token == access_token

    def close(self) -> None:
        """Close the session if this client made it (an injected one belongs to the caller)."""
        if self._owns_session:
            self._session.close()

    def get_order(self, order_id: str) -> dict[str, Any]:
        """The v2 order with its ``products``, ``shipping_addresses`` (and ``coupons``) lists in place of the links."""
        return self.with_order_details(order_id, self.get_order_summary(order_id))

    def get_order_summary(self, order_id: str) -> dict[str, Any]:
        """The v2 order alone (one call): enough to decide whether the rest is worth two more."""
        return self._get_object(f"/v2/orders/{order_id}")

    def with_order_details(self, order_id: str, order: Mapping[str, Any]) -> dict[str, Any]:
        """The order with its products, shipping addresses and (only when a coupon took something off
        it: another call on the shared quota otherwise wasted) its coupons, as lists."""
        path = f"/v2/orders/{order_id}"
        details = {
            **order,
            "products": self.get_all_pages(f"{path}/products"),
            "shipping_addresses": self.get_list(f"{path}/shipping_addresses"),
        }
        if has_coupon_discount(order):
            details["coupons"] = self.get_list(f"{path}/coupons")
        return details

    def get_customer(self, customer_id: str) -> dict[str, Any]:
        # v3 has no GET-by-id for customers; the filtered list is the documented way.
        path = "/v3/customers"
        body = self._get(path, {"id:in": customer_id, "include": "addresses"})
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise BigCommerceAPIError("GET", path, 200, UNEXPECTED_BODY)
        # Match on the id rather than take data[0]: a filter the API ignored must not yield a stranger.
        for customer in data:
            if isinstance(customer, dict) and str(customer.get("id")) == customer_id:
                return customer
        raise NotFoundAtPlatform(f"BigCommerce customer {customer_id} not found")

    def get_subscriber(self, subscriber_id: str) -> dict[str, Any]:
        path = "/v3/customers/subscribers"
        subscribers, _more = self.get_v3_page(path, {"id:in": subscriber_id})
        for subscriber in subscribers:
            if str(subscriber.get("id")) == subscriber_id:
                return subscriber
        raise NotFoundAtPlatform(f"BigCommerce subscriber {subscriber_id} not found")

    def get_shipment(self, order_id: str, shipment_id: str) -> dict[str, Any]:
        return self._get_object(f"/v2/orders/{order_id}/shipments/{shipment_id}")

    # -- plumbing

    def get_v3_page(self, path: str, params: Mapping[str, str]) -> tuple[list[dict[str, Any]], bool]:
        """One page of a v3 collection: its ``data`` items and whether another page follows."""
        body = self._get(path, params)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise BigCommerceAPIError("GET", path, 200, UNEXPECTED_BODY)
        meta = body.get("meta") if isinstance(body, dict) else None
        pagination = meta.get("pagination") if isinstance(meta, dict) else None
        current = pagination.get("current_page") if isinstance(pagination, dict) else None
        total = pagination.get("total_pages") if isinstance(pagination, dict) else None
        more = isinstance(current, int) and isinstance(total, int) and current < total
        return [item for item in data if isinstance(item, dict)], more

    def _get_object(self, path: str) -> dict[str, Any]:
        body = self._get(path)
        if not isinstance(body, dict):
            raise BigCommerceAPIError("GET", path, 200, UNEXPECTED_BODY)
        return body

    def get_list(self, path: str, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        body = self._get(path, params)
        if body is None:  # v2 answers an empty collection with 204 No Content
            return []
        if not isinstance(body, list):
            raise BigCommerceAPIError("GET", path, 200, UNEXPECTED_BODY)
        return [item for item in body if isinstance(item, dict)]

    def get_all_pages(self, path: str, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Every item of a v2 collection, page by page."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            batch = self.get_list(path, {**(params or {}), "page": str(page), "limit": str(PRODUCTS_PAGE_SIZE)})
            items.extend(batch)
            if len(batch) < PRODUCTS_PAGE_SIZE:
                return items
            page += 1

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def request(self, method: str, path: str, *, params: Mapping[str, str] | None = None, json: object = None) -> Any:
        """One call against the store's API, paced by its quota; the decoded JSON body (None for 204).

        Every call (reads, and the write-back's PUTs and POSTs) goes through here so that each one
        is paced and classified the same way. Raises TransientPlatformError (retry later),
        NotFoundAtPlatform (404) and BigCommerceAPIError (a permanent refusal).
        """
        # The slot is held only while the call is on the wire (requests has read the body on return).
        with self._budget.lease() if self._budget is not None else contextlib.nullcontext():
            window = self._wait_for_quota()
            headers = {"X-Auth-Token": self._token, "Accept": "application/json"}
            try:
                response = self._session.request(
                    method, self._base + path, headers=headers, params=params, json=json, timeout=TIMEOUT
                )
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                # The exception text holds the URL and socket detail; the class name is enough to act on.
                api_call("bigcommerce", "error")
                raise TransientPlatformError(f"BigCommerce {method} {path}: {type(exc).__name__}") from None
            api_call("bigcommerce", response.status_code)
            self._note_quota(response.headers, response.status_code, window)
        self._raise_for_status(method, path, response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            # A 2xx that is not JSON is a proxy or maintenance page, not an answer: ask again later.
            raise TransientPlatformError(f"BigCommerce {method} {path}: {response.status_code} not JSON") from None

    def _raise_for_status(self, method: str, path: str, response: requests.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        log.warning("BigCommerce store %s: %s %s answered %s", self.store_hash, method, path, status)
        if status == 429:
            raise TransientPlatformError(
                f"BigCommerce {method} {path}: 429 rate limited", retry_after=_retry_after(response.headers)
            )
        if status >= 500:
            raise TransientPlatformError(f"BigCommerce {method} {path}: {status}")
        if status == 404:
            raise NotFoundAtPlatform(f"BigCommerce {method} {path}: 404")
        raise BigCommerceAPIError(method, path, status)

    def _note_quota(self, headers: Mapping[str, str], status: int = 200, window: int | None = None) -> None:
        if self._budget is not None:
            self._budget.record_response(window, status, headers)
            return
        left = _header_number(headers, "X-Rate-Limit-Requests-Left")
        reset_ms = _header_number(headers, "X-Rate-Limit-Time-Reset-Ms")
        if left is None or reset_ms is None or left > self._min_requests_left:
            return
        self._resume_at = self._monotonic() + min(max(reset_ms / 1000.0, 0.0), self._max_wait)

    def _wait_for_quota(self) -> int | None:
        """Wait while the quota is low; with a budget, reserve one request and return its window."""
        if self._budget is not None:
            return self._budget.reserve_request()
        if self._resume_at is None:
            return None
        # Only the part of the window that is still ahead: the next call may come much later.
        delay = self._resume_at - self._monotonic()
        self._resume_at = None
        if delay > 0:
            log.info("BigCommerce store %s is low on API quota; waiting %.1f s", self.store_hash, delay)
            api_waited("bigcommerce", delay)
            self._sleep(delay)
        return None


# -------------------------------------------------------------------------------------------- parsing
