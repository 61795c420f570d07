"""BigCommerce: the adapter that turns its (thin) webhooks into changes.

BigCommerce webhook bodies carry only ``{type, id}``, so every event is answered by calling the API back
and deciding from the resource's current state (events arrive duplicated and out of order). The access
token and customer data never go into exception messages or logs: errors name the path and the status.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import requests

from integration.events.changes import (
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
    ShopUninstalled,
    Skip,
)
from integration.platforms.bigcommerce.client import BigCommerceClient
from integration.platforms.bigcommerce.coupons import coupon_codes
from integration.platforms.bigcommerce.rate_budget import BudgetFactory
from integration.platforms.bigcommerce.topics import (
    APP_UNINSTALLED,
    CUSTOMER_DELETED,
    CUSTOMER_SCOPES,
    NEWSLETTER_CONSENT,
    ORDER_SCOPES,
    PLATFORM,
    RECONCILE_CUSTOMER,
    RECONCILE_ORDER,
    RESOURCE_ID_RE,
    SCOPES_HANDLED,
    STORE_HASH_RE,
    SUBSCRIBER_SCOPES,
    store_hash_from_producer,
)
from integration.platforms.interfaces import (
    BadPayload,
    ShopAccess,
    StoredEvent,
)

log = logging.getLogger(__name__)

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

# When was it paid? The v2 order has no payment time: ``payment_status`` says how the gateway stands
# (and is empty for offline methods the merchant marks paid by hand), not when, and the transactions
# need another scope and call. So the status dates it: in a "paid, waiting to ship" status the move into
# it is the order's latest change (``date_modified``: the adapter reads the order when its status
# changes); an order we first see further along was paid no later than it was placed, as far as we
# can tell, so ``date_created`` (a backfilled old order then gets no thank-you). The earliest time any
# read gave is kept, so a later ship or edit does not move it.
PAID_NOW_STATUS_IDS = frozenset({8, 9, 11, 13})
PAID_BEFORE_STATUS_IDS = frozenset({2, 3, 4, 10, 14})


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
    """A fetched v2 order (with products, shipping_addresses and coupons lists) as an OrderChange."""
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
    placed_at = _rfc2822(order.get("date_created"))
    paid_at = None
    if status_id in PAID_NOW_STATUS_IDS:
        paid_at = updated_at
    elif status_id in PAID_BEFORE_STATUS_IDS:
        paid_at = placed_at or updated_at
    return OrderChange(
        platform_id=order_id,
        updated_at=updated_at,
        status=_order_status(order_id, status_id, archived),
        platform_status=_text(order.get("status")),
        name=order_id,
        email=_text(_mapping(order.get("billing_address")).get("email")),
        currency=_text(order.get("currency_code")),
        total_price=_decimal(order.get("total_inc_tax"), f"order {order_id} total_inc_tax"),
        placed_at=placed_at,
        paid_at=paid_at,
        # The billing details are a snapshot taken at checkout, so they are as old as the order, not
        # as new as its last status change: dated otherwise, a status change would overwrite a
        # profile the customer edited since.
        customer=_billing_customer(order, placed_at or updated_at),
        shipping_address=_v2_address(_mapping(addresses[0])) if addresses else None,
        lines=tuple(_order_line(_mapping(product)) for product in _list(order.get("products"))),
        discount_codes=coupon_codes(order),
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
        if scope == APP_UNINSTALLED:
            # The body says nothing more than the scope; lifecycle confirms it with BigCommerce.
            return [ShopUninstalled(_as_utc(event.triggered_at) if event.triggered_at else None)]
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
