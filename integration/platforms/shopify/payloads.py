"""Shopify payloads (REST-shaped webhook bodies) parsed into the one event model.

Ids are 64-bit integers, so they are parsed as Python ints and turned into strings, never through a float
(a double keeps only 53 bits). Optional fields that are missing or of an unexpected type become ``None``:
one odd field should not stop an order from being recorded. Only what a change cannot be keyed or ordered
without (ids, a time) is a BadPayload.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation

from integration.events.changes import (
    Address,
    Change,
    ConsentChange,
    ConsentChannel,
    CustomerChange,
    DeliveryProgress,
    FulfillmentChange,
    FulfillmentStatus,
    OrderChange,
    OrderLineData,
    OrderStatus,
    Skip,
)
from integration.platforms.interfaces import BadPayload
from integration.platforms.shopify.discounts import discount_codes
from integration.platforms.shopify.topics import NUMERIC_RE, SLUG_RE, parse_timestamp

Payload = Mapping[str, object]


def reconciled_order(payload: Payload) -> Sequence[Change]:
    """An order read back over the API, with the fulfilments it carries (their webhooks may be lost too)."""
    changes: list[Change] = [_order(payload, None)]
    for fulfillment in _objects(payload, "fulfillments"):
        change = _fulfillment(fulfillment, None)
        if not isinstance(change, Skip):
            changes.append(change)
    return changes


def gid_id(value: object, kind: str) -> str | None:
    """``gid://shopify/{kind}/123`` -> ``"123"``; anything else -> None."""
    prefix = f"gid://shopify/{kind}/"
    if isinstance(value, str) and value.startswith(prefix) and NUMERIC_RE.fullmatch(value[len(prefix) :]):
        return value[len(prefix) :]
    return None


# --- parsing the body and its fields ---------------------------------------------------------------


_NOT_JSON = object()


def load_object(body: bytes) -> Payload:
    parsed: object = _NOT_JSON
    # The error is raised after this block, not from it: json's exception keeps the whole body in
    # ``.doc``, and chaining it onto ours would carry customer data into logs and error reports.
    with contextlib.suppress(ValueError, RecursionError):
        # parse_float=Decimal keeps a price sent as a JSON number exact; NaN/Infinity are refused.
        parsed = json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
    if parsed is _NOT_JSON:
        raise BadPayload("body is not valid JSON")
    if not isinstance(parsed, dict):
        raise BadPayload(f"body is a JSON {_json_kind(parsed)}, expected an object")
    return parsed


def _refuse_constant(name: str) -> object:
    raise ValueError("NaN and Infinity are not JSON")


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array"


def _text(data: Payload, key: str) -> str | None:
    """A non-blank string field, stripped; Shopify sends "" as well as null for "none"."""
    value = data.get(key)
    if isinstance(value, str):
        return value.strip() or None
    return None


def _slug(data: Payload, key: str) -> str | None:
    value = _text(data, key)
    return value.lower() if value is not None else None


def _object(data: Payload, key: str) -> Payload | None:
    value = data.get(key)
    return value if isinstance(value, dict) else None


def _objects(data: Payload, key: str) -> list[Payload]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _id(value: object) -> str | None:
    """A positive integer id as its exact decimal string; floats are refused, they lost digits already."""
    if isinstance(value, bool):  # a JSON true is an int to Python, never an id
        return None
    if isinstance(value, int):
        return str(value) if value > 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and int(value) > 0:
        return str(int(value))
    return None


def required_id(data: Payload, key: str, what: str) -> str:
    value = _id(data.get(key))
    if value is None:
        raise BadPayload(f"{what} has no usable {key}")
    return value


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal | int):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None  # Decimal("NaN") parses; it is not a price


def _time(data: Payload, key: str) -> dt.datetime | None:
    return parse_timestamp(data.get(key))


def as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _updated_at(data: Payload, triggered_at: dt.datetime | None, what: str) -> dt.datetime:
    """The resource's own updated_at, else when Shopify triggered the webhook: both order versions."""
    moment = _time(data, "updated_at") or triggered_at
    if moment is None:
        raise BadPayload(f"{what} has no usable updated_at and the event has no triggered_at")
    return moment


# --- orders ----------------------------------------------------------------------------------------

# Checked in this order: a refund outranks fulfilment, which outranks payment.
_REFUND_STATUS = {"refunded": OrderStatus.REFUNDED, "partially_refunded": OrderStatus.PARTIALLY_REFUNDED}
_FULFILLED_STATUS = {"fulfilled": OrderStatus.FULFILLED, "partial": OrderStatus.PARTIALLY_FULFILLED}
_PAYMENT_STATUS = {
    "paid": OrderStatus.PAID,
    "partially_paid": OrderStatus.PAID,
    "voided": OrderStatus.CANCELLED,  # the authorisation was released: no money will come
}


def _order_status(financial: str | None, fulfillment: str | None, cancelled: bool) -> OrderStatus:
    if cancelled:
        return OrderStatus.CANCELLED
    for table, key in (
        (_REFUND_STATUS, financial),
        (_FULFILLED_STATUS, fulfillment),
        (_PAYMENT_STATUS, financial),
    ):
        if key in table:
            return table[key]
    return OrderStatus.PENDING


def _platform_status(financial: str | None, fulfillment: str | None) -> str | None:
    if financial is None and fulfillment is None:
        return None
    return f"{financial or ''}/{fulfillment or ''}"


def _order(payload: Payload, triggered_at: dt.datetime | None) -> OrderChange:
    platform_id = required_id(payload, "id", "order")
    updated_at = _updated_at(payload, triggered_at, "order")
    financial, fulfillment = _slug(payload, "financial_status"), _slug(payload, "fulfillment_status")
    total = _decimal(payload.get("total_price"))
    return OrderChange(
        platform_id=platform_id,
        updated_at=updated_at,
        # Any cancelled_at counts, even one we cannot parse: Shopify only sets it on cancellation.
        status=_order_status(financial, fulfillment, cancelled=payload.get("cancelled_at") not in (None, "")),
        platform_status=_platform_status(financial, fulfillment),
        name=_text(payload, "name"),
        email=_text(payload, "email") or _text(payload, "contact_email"),
        currency=_text(payload, "currency"),
        total_price=total if total is not None else _decimal(payload.get("current_total_price")),
        placed_at=_time(payload, "processed_at") or _time(payload, "created_at"),
        cancelled_at=_time(payload, "cancelled_at"),
        customer=_order_customer(payload, updated_at),
        shipping_address=_address(_object(payload, "shipping_address")),
        lines=tuple(_line(item) for item in _objects(payload, "line_items")),
        discount_codes=discount_codes(payload),
        test=payload.get("test") is True,
    )


def _order_customer(payload: Payload, order_updated_at: dt.datetime) -> CustomerChange | None:
    customer = _object(payload, "customer")
    # Guest checkouts send no customer (null, absent or, in some versions, an object without an id):
    # there is nothing to key a customer record on.
    if customer is None or _id(customer.get("id")) is None:
        return None
    return _customer(customer, order_updated_at, locale=_text(payload, "customer_locale"))


def _line(item: Payload) -> OrderLineData:
    quantity = item.get("quantity")
    # Lines replace the stored ones, so a guessed quantity would stick until the next update.
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise BadPayload("order line item has no integer quantity")
    return OrderLineData(
        title=_text(item, "title") or _text(item, "name") or "",
        quantity=quantity,
        price=_decimal(item.get("price")),
        platform_line_id=_id(item.get("id")),
        product_id=_id(item.get("product_id")),
        variant_id=_id(item.get("variant_id")),
        sku=_text(item, "sku"),
    )


# --- customers -------------------------------------------------------------------------------------


def customer_topic(payload: Payload, triggered_at: dt.datetime | None) -> Sequence[Change]:
    customer = _customer(payload, triggered_at, locale=_text(payload, "locale"))
    # Payloads before 2025-01 still carry consent (later ones leave it to the consent topics).
    consents = [
        _consent(payload, key, channel, customer.platform_id or "", customer.updated_at)
        for key, channel in (
            ("email_marketing_consent", ConsentChannel.EMAIL),
            ("sms_marketing_consent", ConsentChannel.SMS),
        )
        if _object(payload, key) is not None
    ]
    return (customer, *(c for c in consents if c is not None))


def _consent(
    payload: Payload, key: str, channel: ConsentChannel, customer_id: str, fallback: dt.datetime | None
) -> ConsentChange | None:
    consent = _object(payload, key) or {}
    state = _slug(consent, "state")
    if state is None:
        return None
    updated_at = parse_timestamp(consent.get("consent_updated_at")) or fallback
    if updated_at is None:
        raise BadPayload(f"{key} has no consent_updated_at and the delivery no trigger time")
    return ConsentChange(
        customer_platform_id=customer_id,
        channel=channel,
        state=state,
        updated_at=updated_at,
        email=_text(payload, "email_address") or _text(payload, "email"),
        phone=_text(payload, "phone"),
    )


def _email_consent_topic(payload: Payload, triggered_at: dt.datetime | None) -> ConsentChange | Skip:
    """``customers_email_marketing_consent/update``: ``{customer_id, email_address, email_marketing_consent}``."""
    customer_id = required_id(payload, "customer_id", "consent")
    return _consent(payload, "email_marketing_consent", ConsentChannel.EMAIL, customer_id, triggered_at) or Skip(
        "consent without a state"
    )


def _sms_consent_topic(payload: Payload, triggered_at: dt.datetime | None) -> ConsentChange | Skip:
    """``customers_marketing_consent/update``: ``{id, phone, sms_marketing_consent}``."""
    customer_id = required_id(payload, "id", "consent")
    return _consent(payload, "sms_marketing_consent", ConsentChannel.SMS, customer_id, triggered_at) or Skip(
        "consent without a state"
    )


def _customer(data: Payload, fallback_updated_at: dt.datetime | None, locale: str | None) -> CustomerChange:
    return CustomerChange(
        platform_id=required_id(data, "id", "customer"),
        updated_at=_updated_at(data, fallback_updated_at, "customer"),
        email=_text(data, "email"),
        first_name=_text(data, "first_name"),
        last_name=_text(data, "last_name"),
        phone=_text(data, "phone"),
        locale=locale,
        address=_address(_object(data, "default_address") or next(iter(_objects(data, "addresses")), None)),
        tags=_tags(data.get("tags")),
    )


def _tags(value: object) -> tuple[str, ...] | None:
    """REST's comma-separated tag string (absent since 2025-01) -> the tags; None when not sent."""
    if not isinstance(value, str):
        return None
    return tuple(sorted({tag.strip() for tag in value.split(",") if tag.strip()}))


def _address(data: Payload | None) -> Address | None:
    """The parts of an address the app uses; None when there is none or it is empty."""
    if data is None:
        return None
    address = Address(
        city=_text(data, "city"),
        region=_text(data, "province"),
        region_code=_text(data, "province_code"),
        country_code=_text(data, "country_code"),
        postal_code=_text(data, "zip"),
    )
    return None if address == Address() else address


# --- fulfilments and their tracking events ---------------------------------------------------------

# Carrier tracking states: a fulfilment's shipment_status and a fulfilment event's status share them,
# so one table keeps the two from disagreeing about the same parcel.
_SHIPMENT_STATUS = {
    "label_printed": FulfillmentStatus.IN_TRANSIT,
    "label_purchased": FulfillmentStatus.IN_TRANSIT,
    "confirmed": FulfillmentStatus.IN_TRANSIT,
    "carrier_picked_up": FulfillmentStatus.IN_TRANSIT,
    "in_transit": FulfillmentStatus.IN_TRANSIT,
    "delayed": FulfillmentStatus.IN_TRANSIT,
    "ready_for_pickup": FulfillmentStatus.IN_TRANSIT,
    "out_for_delivery": FulfillmentStatus.OUT_FOR_DELIVERY,
    "delivered": FulfillmentStatus.DELIVERED,
    "attempted_delivery": FulfillmentStatus.FAILED,
    "failure": FulfillmentStatus.FAILED,
}

# The fulfilment's own status. A cancelled or failed fulfilment keeps its last shipment_status,
# so these two outrank the carrier's word.
_FULFILLMENT_ENDED = {
    "cancelled": FulfillmentStatus.CANCELLED,
    "failure": FulfillmentStatus.FAILED,
    "error": FulfillmentStatus.FAILED,
}
_FULFILLMENT_OPEN = {
    "success": FulfillmentStatus.SHIPPED,
    "pending": FulfillmentStatus.PENDING,
    "open": FulfillmentStatus.PENDING,
}


def _fulfillment_status(status: str | None, shipment_status: str | None) -> FulfillmentStatus | None:
    if status in _FULFILLMENT_ENDED:
        return _FULFILLMENT_ENDED[status]
    if shipment_status in _SHIPMENT_STATUS:
        return _SHIPMENT_STATUS[shipment_status]
    return _FULFILLMENT_OPEN.get(status) if status is not None else None


def _fulfillment(payload: Payload, triggered_at: dt.datetime | None) -> FulfillmentChange | Skip:
    platform_id = required_id(payload, "id", "fulfillment")
    order_platform_id = required_id(payload, "order_id", "fulfillment")
    updated_at = _updated_at(payload, triggered_at, "fulfillment")
    raw_status = _slug(payload, "status")
    status = _fulfillment_status(raw_status, _slug(payload, "shipment_status"))
    if status is None:
        return Skip(_unknown_status("fulfillment status", raw_status))
    return FulfillmentChange(
        platform_id=platform_id,
        order_platform_id=order_platform_id,
        updated_at=updated_at,
        status=status,
        tracking_company=_text(payload, "tracking_company"),
        tracking_number=_text(payload, "tracking_number") or _first_text(payload, "tracking_numbers"),
        tracking_url=_text(payload, "tracking_url") or _first_text(payload, "tracking_urls"),
        # A pending fulfilment has been requested, not shipped.
        shipped_at=None if status is FulfillmentStatus.PENDING else _time(payload, "created_at"),
        delivered_at=updated_at if status is FulfillmentStatus.DELIVERED else None,
    )


def _first_text(data: Payload, key: str) -> str | None:
    values = data.get(key)
    if not isinstance(values, list):
        return None
    return next((value.strip() for value in values if isinstance(value, str) and value.strip()), None)


def _delivery_progress(payload: Payload, triggered_at: dt.datetime | None) -> DeliveryProgress | Skip:
    fulfillment_platform_id = required_id(payload, "fulfillment_id", "fulfillment event")
    order_platform_id = required_id(payload, "order_id", "fulfillment event")
    happened_at = _time(payload, "happened_at") or _time(payload, "created_at") or triggered_at
    if happened_at is None:
        raise BadPayload("fulfillment event has no usable happened_at and the event has no triggered_at")
    raw_status = _slug(payload, "status")
    if raw_status is None:
        raise BadPayload("fulfillment event has no status")
    status = _SHIPMENT_STATUS.get(raw_status)
    if status is None:
        return Skip(_unknown_status("fulfillment event status", raw_status))
    return DeliveryProgress(
        fulfillment_platform_id=fulfillment_platform_id,
        order_platform_id=order_platform_id,
        happened_at=happened_at,
        status=status,
    )


def _unknown_status(what: str, value: str | None) -> str:
    """A Skip reason naming the value when it is a plain status word (so a new Shopify status is visible)."""
    if value is not None and SLUG_RE.fullmatch(value):
        return f"unknown {what} {value!r}"
    return f"missing or unreadable {what}"


TRANSLATORS: dict[str, Callable[[Payload, dt.datetime | None], Change | Sequence[Change] | Skip]] = {
    "orders": _order,
    "customers": customer_topic,
    "customers_email_marketing_consent": _email_consent_topic,
    "customers_marketing_consent": _sms_consent_topic,
    "fulfillments": _fulfillment,
    "fulfillment_events": _delivery_progress,
}
