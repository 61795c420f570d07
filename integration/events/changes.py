"""The one event model: what every platform adapter turns a stored webhook into.

Nothing past the adapters knows which platform an event came from. Every change carries the
platform's ids (as strings) and the time the platform says the resource changed, which is what keeps
late and out-of-order deliveries from overwriting newer data.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from decimal import Decimal


class OrderStatus(enum.StrEnum):
    PENDING = "pending"  # placed, not paid yet (or awaiting verification)
    PAID = "paid"  # paid, nothing shipped
    PARTIALLY_FULFILLED = "partially_fulfilled"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    ARCHIVED = "archived"


class FulfillmentStatus(enum.StrEnum):
    PENDING = "pending"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Address:
    city: str | None = None
    region: str | None = None
    region_code: str | None = None
    country_code: str | None = None
    postal_code: str | None = None


@dataclass(frozen=True)
class CustomerChange:
    """A customer as the platform describes it at ``updated_at``.

    ``platform_id`` is None for a guest known only from an order (matched by email, then phone).
    """

    platform_id: str | None
    updated_at: dt.datetime
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    locale: str | None = None
    address: Address | None = None
    # The platform's tags when the source carried them (None: not known from this source, keep ours).
    tags: tuple[str, ...] | None = None


@dataclass(frozen=True)
class CustomerDeleted:
    platform_id: str
    updated_at: dt.datetime


@dataclass(frozen=True)
class OrderLineData:
    title: str
    quantity: int
    price: Decimal | None = None
    platform_line_id: str | None = None
    product_id: str | None = None
    variant_id: str | None = None
    sku: str | None = None


@dataclass(frozen=True)
class DiscountCodeUse:
    """A discount code the customer entered on an order, as the platform reports it."""

    code: str
    amount: Decimal | None = None  # what it took off the order
    kind: str | None = None  # the platform's word: percentage, fixed_amount, shipping...


@dataclass(frozen=True)
class OrderChange:
    """An order as the platform describes it at ``updated_at`` (lines replace the stored ones)."""

    platform_id: str
    updated_at: dt.datetime
    status: OrderStatus
    platform_status: str | None = None
    name: str | None = None
    email: str | None = None
    currency: str | None = None
    total_price: Decimal | None = None
    placed_at: dt.datetime | None = None
    # When the money was taken, as far as this description of the order can tell (None: not paid, or
    # paid at a time this payload does not say; each adapter documents how it reads it). Stored as the
    # earliest such time any description gave: the thank-you is timed from it.
    paid_at: dt.datetime | None = None
    cancelled_at: dt.datetime | None = None
    customer: CustomerChange | None = None
    shipping_address: Address | None = None
    lines: tuple[OrderLineData, ...] = field(default_factory=tuple)
    # The discount codes used on it (thank-you codes are matched against these).
    discount_codes: tuple[DiscountCodeUse, ...] = field(default_factory=tuple)
    # A test order (Shopify ``test``): recorded like any other, but never given a rep, a call or a code.
    test: bool = False


@dataclass(frozen=True)
class FulfillmentChange:
    """A whole fulfilment or shipment as the platform describes it at ``updated_at``."""

    platform_id: str
    order_platform_id: str
    updated_at: dt.datetime
    status: FulfillmentStatus
    tracking_company: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    shipped_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None


@dataclass(frozen=True)
class DeliveryProgress:
    """A tracking step on a fulfilment (Shopify fulfillment events): changes status, nothing else."""

    fulfillment_platform_id: str
    order_platform_id: str
    happened_at: dt.datetime
    status: FulfillmentStatus


class ConsentChannel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    CALLS = "calls"


@dataclass(frozen=True)
class ConsentChange:
    """What a customer agreed to on one channel, as of ``updated_at`` (the platform's own word for the
    state, e.g. ``subscribed``). Only this channel's consent changes; nothing else about the person."""

    # None for a newsletter subscriber who is not (yet) a customer: matched by email.
    customer_platform_id: str | None
    channel: ConsentChannel
    state: str
    updated_at: dt.datetime
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class ShopUninstalled:
    """The merchant removed the app. Not applied to rows like the others: processing hands it to
    ``integration.shops.lifecycle`` (tokens destroyed, jobs cancelled). ``notified_at`` is when the platform
    sent it, so a late notice does not uninstall a shop reinstalled since."""

    notified_at: dt.datetime | None


Change = (
    CustomerChange
    | CustomerDeleted
    | OrderChange
    | FulfillmentChange
    | DeliveryProgress
    | ConsentChange
    | ShopUninstalled
)


@dataclass(frozen=True)
class Skip:
    """The adapter looked and there is nothing to apply (for example an incomplete checkout)."""

    reason: str
