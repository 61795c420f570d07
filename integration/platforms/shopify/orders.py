"""Shopify orders (REST-shaped: webhook bodies, and GraphQL reads restated by ``shopify.shapes``) parsed
into the one event model: status, payment time, customer and lines. The field parsers, customers and
fulfilments are in ``shopify.payloads``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from integration.events.changes import Change, CustomerChange, OrderChange, OrderLineData, OrderStatus, Skip
from integration.platforms.interfaces import BadPayload
from integration.platforms.shopify.discounts import discount_codes
from integration.platforms.shopify.payloads import (
    Payload,
    _address,
    _customer,
    _decimal,
    _fulfillment,
    _id,
    _object,
    _objects,
    _slug,
    _text,
    _time,
    _updated_at,
    required_id,
)


def reconciled_order(payload: Payload) -> Sequence[Change]:
    """An order read back over the API, with the fulfilments it carries (their webhooks may be lost too)."""
    changes: list[Change] = [_order(payload, None)]
    for fulfillment in _objects(payload, "fulfillments"):
        change = _fulfillment(fulfillment, None)
        if not isinstance(change, Skip):
            changes.append(change)
    return changes


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


# Financial states in which money was taken at some point (a refund comes after a payment).
_MONEY_TAKEN = frozenset({"paid", "partially_paid", "partially_refunded", "refunded"})
# Transactions that move money to the merchant: a sale (authorised and captured at once) or a capture.
_PAYMENT_KINDS = frozenset({"sale", "capture"})


def _paid_at(payload: Payload, financial: str | None, paid_moment: dt.datetime | None) -> dt.datetime | None:
    """When the order was paid, as far as this payload can tell; None when unpaid or unknown.

    Webhook bodies carry no payment time, only ``financial_status``. The exact time is the first
    successful sale or capture among ``transactions`` (read back over GraphQL); otherwise the topic says it
    (``paid_moment``): orders/paid is sent as the order is paid, and an order that arrives paid in
    orders/create was paid as it was placed. orders/updated and the other topics say that it is paid, not
    since when: None, and orders/paid (always sent) brings the time.
    """
    if financial not in _MONEY_TAKEN:
        return None
    times = [
        moment
        for transaction in _objects(payload, "transactions")
        if _slug(transaction, "kind") in _PAYMENT_KINDS and _slug(transaction, "status") == "success"
        for moment in [_time(transaction, "processed_at") or _time(transaction, "created_at")]
        if moment is not None
    ]
    return min(times) if times else paid_moment


def _platform_status(financial: str | None, fulfillment: str | None) -> str | None:
    if financial is None and fulfillment is None:
        return None
    return f"{financial or ''}/{fulfillment or ''}"


def order_topic(topic: str, payload: Payload, triggered_at: dt.datetime | None) -> OrderChange:
    """An orders/* webhook: the topic is what dates the payment (see :func:`_paid_at`)."""
    paid_moment = None
    if topic == "orders/paid":
        paid_moment = _time(payload, "updated_at") or triggered_at
    elif topic == "orders/create":
        paid_moment = _time(payload, "processed_at") or _time(payload, "created_at")
    return _order(payload, triggered_at, paid_moment=paid_moment)


def _order(
    payload: Payload, triggered_at: dt.datetime | None, *, paid_moment: dt.datetime | None = None
) -> OrderChange:
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
        paid_at=_paid_at(payload, financial, paid_moment),
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
