"""BigCommerce: a thin REST client and the adapter that turns its (thin) webhooks into changes.

BigCommerce webhook bodies carry only ``{type, id}``, so every event is answered by calling the API back
and deciding from the resource's current state (events arrive duplicated and out of order). The access
token and customer data never go into exception messages or logs: errors name the path and the status.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import requests

from integration.domain import (
    Address,
    Change,
    ConsentChange,
    ConsentChannel,
    CustomerChange,
    CustomerDeleted,
    FulfillmentChange,
    FulfillmentStatus,
    OrderChange,
    OrderLineData,
    OrderStatus,
    Skip,
)
from integration.platforms.base import (
    BadPayload,
    NotFoundAtPlatform,
    ShopAccess,
    StoredEvent,
    TransientPlatformError,
)
from integration.platforms.rate_budget import BudgetFactory, StoreBudget

log = logging.getLogger(__name__)

PLATFORM = "bigcommerce"

ORDER_SCOPES = frozenset(
    {"store/order/created", "store/order/updated", "store/order/statusUpdated", "store/order/archived"}
)
CUSTOMER_SCOPES = frozenset({"store/customer/created", "store/customer/updated"})
CUSTOMER_DELETED = "store/customer/deleted"
SHIPMENT_CREATED = "store/shipment/created"
# Newsletter sign-ups (Subscribers V3). A subscriber is not always a customer, so consent is matched by
# email. A deleted subscriber's body names only an id we never stored against an email: left stored.
SUBSCRIBER_SCOPES = frozenset({"store/subscriber/created", "store/subscriber/updated"})
NEWSLETTER_CONSENT = "marketing_newsletter"
# Written by reconciliation (``integration.reconcile``) for what it found changed, body {"data": {"id": N}}:
# handled exactly like the webhooks they stand in for.
RECONCILE_ORDER = "reconcile/order"
RECONCILE_CUSTOMER = "reconcile/customer"
SCOPES_HANDLED: frozenset[str] = (
    ORDER_SCOPES
    | CUSTOMER_SCOPES
    | SUBSCRIBER_SCOPES
    | {CUSTOMER_DELETED, SHIPMENT_CREATED, RECONCILE_ORDER, RECONCILE_CUSTOMER}
)
# What may arrive by webhook and be processed (reconcile/* are only ever written by us).
WEBHOOK_SCOPES: frozenset[str] = SCOPES_HANDLED - {RECONCILE_ORDER, RECONCILE_CUSTOMER}

STORE_HASH_RE = re.compile(r"[a-z0-9]{1,64}")
# Ids from a webhook body end up in URL paths, so only plain numbers get through.
RESOURCE_ID_RE = re.compile(r"[0-9]{1,20}")

# (connect, read) seconds: a hung BigCommerce must not hold an RQ worker for minutes.
TIMEOUT = (5.0, 20.0)
PRODUCTS_PAGE_SIZE = 250  # the v2 maximum; the default of 50 would cost extra calls on big orders

INCOMPLETE_STATUS_ID = 0
# BigCommerce's fixed status ids (custom status labels are renamed copies of these).
ORDER_STATUS_BY_ID: Mapping[int, OrderStatus] = {
    1: OrderStatus.PENDING,  # Pending
    7: OrderStatus.PENDING,  # Awaiting Payment
    12: OrderStatus.PENDING,  # Manual Verification Required
    8: OrderStatus.PAID,  # Awaiting Pickup
    9: OrderStatus.PAID,  # Awaiting Shipment
    11: OrderStatus.PAID,  # Awaiting Fulfillment
    13: OrderStatus.PAID,  # Disputed (money was taken; the dispute is the merchant's business)
    2: OrderStatus.FULFILLED,  # Shipped
    10: OrderStatus.FULFILLED,  # Completed
    3: OrderStatus.PARTIALLY_FULFILLED,  # Partially Shipped
    4: OrderStatus.REFUNDED,
    14: OrderStatus.PARTIALLY_REFUNDED,
    5: OrderStatus.CANCELLED,  # Cancelled
    6: OrderStatus.CANCELLED,  # Declined
}


def store_hash_from_producer(producer: object) -> str | None:
    """``"stores/{hash}"`` (the webhook ``producer`` and the JWT ``sub``) -> hash; anything else -> None."""
    if not isinstance(producer, str):
        return None
    prefix, _, store_hash = producer.partition("/")
    if prefix != "stores" or not STORE_HASH_RE.fullmatch(store_hash):
        return None
    return store_hash


# --------------------------------------------------------------------------------------------- client


class BigCommerceAPIError(Exception):
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
        """The v2 order with its ``products`` and ``shipping_addresses`` lists in place of the links."""
        return self.with_order_details(order_id, self.get_order_summary(order_id))

    def get_order_summary(self, order_id: str) -> dict[str, Any]:
        """The v2 order alone (one call): enough to decide whether the rest is worth two more."""
        return self._get_object(f"/v2/orders/{order_id}")

    def with_order_details(self, order_id: str, order: Mapping[str, Any]) -> dict[str, Any]:
        path = f"/v2/orders/{order_id}"
        return {
            **order,
            "products": self.get_all_pages(f"{path}/products"),
            "shipping_addresses": self.get_list(f"{path}/shipping_addresses"),
        }

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
                raise TransientPlatformError(f"BigCommerce {method} {path}: {type(exc).__name__}") from None
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
            self._sleep(delay)
        return None


# -------------------------------------------------------------------------------------------- parsing


def _text(value: object) -> str | None:
    """BigCommerce sends "" for absent text; the domain says None."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _id(value: object) -> str | None:
    """A numeric id as a string; 0 and blanks mean "none" in BigCommerce (guest, custom product)."""
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    return None if text in {"", "0"} else text


def _resource_id(value: object) -> str | None:
    """A webhook body id (int or digit string) fit to put in a URL path; anything else -> None."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value).strip()
    return text if RESOURCE_ID_RE.fullmatch(text) and text != "0" else None


def _as_utc(moment: dt.datetime) -> dt.datetime:
    # BigCommerce's dates are UTC; a timestamp without an offset ("-0000") is taken as UTC too.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _rfc2822(value: object) -> dt.datetime | None:
    """v2 dates: ``Tue, 05 Mar 2019 21:40:11 +0000``; blank or unparseable -> None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return _as_utc(email.utils.parsedate_to_datetime(value))
    except (TypeError, ValueError):
        return None


def _iso8601(value: object) -> dt.datetime | None:
    """v3 dates: ``2019-06-25T16:40:46Z``; blank or unparseable -> None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return _as_utc(dt.datetime.fromisoformat(value.strip()))
    except ValueError:
        return None


def _decimal(value: object, what: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise BadPayload(f"{what} is not a number") from None


# For reconciliation's change feed, which reads the same fields from list endpoints.
parse_rfc2822 = _rfc2822
parse_iso8601 = _iso8601
resource_id = _resource_id


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    # Guards against an unfetched order, whose products/shipping_addresses are link objects.
    return value if isinstance(value, list) else []


def _webhook_data(body: bytes) -> Mapping[str, Any]:
    """The ``data`` object of a webhook body, which must at least name the resource id."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadPayload("body is not JSON") from None
    if not isinstance(payload, dict):
        raise BadPayload("body is not a JSON object")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise BadPayload("body has no data object")
    if _resource_id(data.get("id")) is None:
        raise BadPayload("body has no numeric data.id")
    return data


# ----------------------------------------------------------------------------------- order translation


def _status_id(order: Mapping[str, Any]) -> int | None:
    value = order.get("status_id")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _order_status(order_id: str, status_id: int | None, archived: bool) -> OrderStatus:
    if archived:
        return OrderStatus.ARCHIVED
    status = ORDER_STATUS_BY_ID.get(status_id) if status_id is not None else None
    if status is None:
        # A new platform status must be mapped by a person, not guessed: quarantine for ops.
        raise BadPayload(f"order {order_id} has unknown status_id {status_id!r}")
    return status


def _billing_customer(order: Mapping[str, Any], updated_at: dt.datetime) -> CustomerChange | None:
    customer_id = _id(order.get("customer_id"))
    if customer_id is None:  # 0 = guest checkout: there is no customer record to point at
        return None
    billing = _mapping(order.get("billing_address"))
    return CustomerChange(
        platform_id=customer_id,
        updated_at=updated_at,
        email=_text(billing.get("email")),
        first_name=_text(billing.get("first_name")),
        last_name=_text(billing.get("last_name")),
        phone=_text(billing.get("phone")),
        locale=_text(order.get("customer_locale")),
        address=_v2_address(billing),
    )


def _v2_address(address: Mapping[str, Any]) -> Address | None:
    if not address:
        return None
    return Address(
        city=_text(address.get("city")),
        region=_text(address.get("state")),
        country_code=_text(address.get("country_iso2")),
        postal_code=_text(address.get("zip")),
    )


def _order_line(product: Mapping[str, Any]) -> OrderLineData:
    try:
        quantity = int(product.get("quantity", 0))
    except (TypeError, ValueError):
        raise BadPayload(f"order product {product.get('id')} has a non-numeric quantity") from None
    return OrderLineData(
        title=_text(product.get("name")) or "",
        quantity=quantity,
        price=_decimal(product.get("price_inc_tax"), "order product price_inc_tax"),
        platform_line_id=_id(product.get("id")),
        product_id=_id(product.get("product_id")),
        variant_id=_id(product.get("variant_id")),
        sku=_text(product.get("sku")),
    )


def order_change(order: Mapping[str, Any], *, archived: bool = False) -> OrderChange | Skip:
    """A fetched v2 order (with products and shipping_addresses lists) as an OrderChange."""
    # created fires for abandoned and failed-payment checkouts too; only the fetched state can tell.
    status_id = _status_id(order)
    if status_id == INCOMPLETE_STATUS_ID:
        return Skip("incomplete order (status 0)")
    order_id = _id(order.get("id"))
    if order_id is None:
        raise BadPayload("order has no id")
    updated_at = _rfc2822(order.get("date_modified"))
    if updated_at is None:
        raise BadPayload(f"order {order_id} has no usable date_modified")
    addresses = _list(order.get("shipping_addresses"))
    archived = archived or order.get("is_deleted") is True
    return OrderChange(
        platform_id=order_id,
        updated_at=updated_at,
        status=_order_status(order_id, status_id, archived),
        platform_status=_text(order.get("status")),
        name=order_id,
        email=_text(_mapping(order.get("billing_address")).get("email")),
        currency=_text(order.get("currency_code")),
        total_price=_decimal(order.get("total_inc_tax"), f"order {order_id} total_inc_tax"),
        placed_at=_rfc2822(order.get("date_created")),
        # The billing details are a snapshot taken at checkout, so they are as old as the order, not
        # as new as its last status change: dated otherwise, a status change would overwrite a
        # profile the customer edited since.
        customer=_billing_customer(order, _rfc2822(order.get("date_created")) or updated_at),
        shipping_address=_v2_address(_mapping(addresses[0])) if addresses else None,
        lines=tuple(_order_line(_mapping(product)) for product in _list(order.get("products"))),
    )


# -------------------------------------------------------------------------- customer, shipment


def customer_change(customer_id: str, customer: Mapping[str, Any], triggered_at: dt.datetime | None) -> CustomerChange:
    """A fetched v3 customer (with addresses) as a CustomerChange."""
    updated_at = _iso8601(customer.get("date_modified")) or (_as_utc(triggered_at) if triggered_at else None)
    if updated_at is None:
        raise BadPayload(f"customer {customer_id} has no date_modified and the event no trigger time")
    addresses = _list(customer.get("addresses"))
    first = _mapping(addresses[0]) if addresses else {}
    address = None
    if first:
        address = Address(
            city=_text(first.get("city")),
            region=_text(first.get("state_or_province")),
            country_code=_text(first.get("country_code")),
            postal_code=_text(first.get("postal_code")),
        )
    return CustomerChange(
        platform_id=customer_id,
        updated_at=updated_at,
        email=_text(customer.get("email")),
        first_name=_text(customer.get("first_name")),
        last_name=_text(customer.get("last_name")),
        phone=_text(customer.get("phone")),
        address=address,
    )


def subscriber_consent(subscriber: Mapping[str, Any], triggered_at: dt.datetime | None) -> ConsentChange | Skip:
    """A subscriber's newsletter consent as email consent (an empty ``consents`` list: unsubscribed)."""
    email_address = _text(subscriber.get("email"))
    if email_address is None:
        return Skip("subscriber without an email")
    updated_at = _iso8601(subscriber.get("date_modified")) or (_as_utc(triggered_at) if triggered_at else None)
    if updated_at is None:
        raise BadPayload("subscriber has no date_modified and the event no trigger time")
    consents = [c for c in _list(subscriber.get("consents")) if isinstance(c, str)]
    return ConsentChange(
        customer_platform_id=None,
        channel=ConsentChannel.EMAIL,
        state="subscribed" if NEWSLETTER_CONSENT in consents else "unsubscribed",
        updated_at=updated_at,
        email=email_address,
    )


def fulfillment_change(
    order_id: str, shipment_id: str, shipment: Mapping[str, Any], triggered_at: dt.datetime | None
) -> FulfillmentChange:
    """A fetched v2 shipment as a FulfillmentChange (a BigCommerce shipment is shipped when created)."""
    created = _rfc2822(shipment.get("date_created"))
    updated_at = created or (_as_utc(triggered_at) if triggered_at else None)
    if updated_at is None:
        raise BadPayload(f"shipment {shipment_id} has no date_created and the event no trigger time")
    return FulfillmentChange(
        platform_id=shipment_id,
        order_platform_id=order_id,
        updated_at=updated_at,
        status=FulfillmentStatus.SHIPPED,
        # tracking_carrier is empty for custom carriers; shipping_provider then names the module.
        tracking_company=_text(shipment.get("tracking_carrier")) or _text(shipment.get("shipping_provider")),
        tracking_number=_text(shipment.get("tracking_number")),
        tracking_url=_text(shipment.get("tracking_link")),
        shipped_at=created,
    )


# -------------------------------------------------------------------------------------------- adapter

ClientFactory = Callable[[str, str], BigCommerceClient]


class BigCommerceAdapter:
    """The Adapter for BigCommerce: fetches the resource each thin webhook names."""

    platform = PLATFORM

    def __init__(
        self,
        api_url: str,
        *,
        session_factory: Callable[[], requests.Session] | None = None,
        client_factory: ClientFactory | None = None,
        budget_for: BudgetFactory | None = None,
    ) -> None:
        self._api_url = api_url
        # Without one, each worker paces itself alone (fine for one process, not for a fleet).
        self._budget_for = budget_for
        self._session_factory = session_factory or requests.Session
        self._client_factory = client_factory or self._new_client
        self._session: requests.Session | None = None
        # One client per store so its quota pause carries over to the store's next event in this worker.
        self._clients: dict[str, BigCommerceClient] = {}

    def handles(self, topic: str) -> bool:
        return topic in SCOPES_HANDLED

    def translate(self, event: StoredEvent, shop: ShopAccess) -> Sequence[Change] | Skip:
        scope = event.topic
        if scope not in SCOPES_HANDLED:
            return Skip("scope not handled")
        data = _webhook_data(event.body)
        resource_id = str(_resource_id(data.get("id")))
        if scope == CUSTOMER_DELETED:
            # Nothing to fetch (the customer is gone at BigCommerce), so no token is needed either.
            updated_at = _as_utc(event.triggered_at) if event.triggered_at else dt.datetime.now(dt.UTC)
            return [CustomerDeleted(platform_id=resource_id, updated_at=updated_at)]
        client = self._client_for(shop)
        if scope in ORDER_SCOPES or scope == RECONCILE_ORDER:
            return self._translate_order(client, resource_id, archived=scope == "store/order/archived")
        if scope in SUBSCRIBER_SCOPES:
            consent = subscriber_consent(client.get_subscriber(resource_id), event.triggered_at)
            return consent if isinstance(consent, Skip) else [consent]
        if scope in CUSTOMER_SCOPES or scope == RECONCILE_CUSTOMER:
            return [customer_change(resource_id, client.get_customer(resource_id), event.triggered_at)]
        order_id = _resource_id(data.get("orderId")) or _resource_id(data.get("order_id"))
        if order_id is None:
            raise BadPayload("shipment body has no numeric data.orderId")
        shipment = client.get_shipment(order_id, resource_id)
        return [fulfillment_change(order_id, resource_id, shipment, event.triggered_at)]

    def _translate_order(self, client: BigCommerceClient, order_id: str, *, archived: bool) -> list[Change] | Skip:
        summary = client.get_order_summary(order_id)
        if _status_id(summary) == INCOMPLETE_STATUS_ID:
            # Every abandoned checkout fires store/order/created; the quota is shared by all the
            # store's apps, so its products and addresses are not worth two more calls.
            return Skip("incomplete order (status 0)")
        result = order_change(client.with_order_details(order_id, summary), archived=archived)
        return result if isinstance(result, Skip) else [result]

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
        self._clients.clear()

    def _client_for(self, shop: ShopAccess) -> BigCommerceClient:
        store_hash = store_hash_from_producer(shop.identifier) or shop.identifier
        if not STORE_HASH_RE.fullmatch(store_hash):
            raise BadPayload(f"shop {shop.shop_id} has no valid BigCommerce store hash")
        if not shop.access_token:
            raise BadPayload(f"no access token for store {store_hash}")
        client = self._clients.get(store_hash)
        if client is None or not client.uses_token(shop.access_token):
            # A reinstall issues a new token; the old client must not keep using the dead one.
            client = self._client_factory(store_hash, shop.access_token)
            self._clients[store_hash] = client
        return client

    def _new_client(self, store_hash: str, access_token: str) -> BigCommerceClient:
        if self._session is None:
            self._session = self._session_factory()
        budget = self._budget_for(store_hash) if self._budget_for is not None else None
        return BigCommerceClient(self._api_url, store_hash, access_token, session=self._session, budget=budget)
