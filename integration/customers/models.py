"""Customers, their orders, lines and fulfilments, their timeline, and the products they bought.

Platform ids are stored as strings: Shopify ids are 64-bit and BigCommerce's are small integers, and
neither is ever arithmetic.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from integration.core.db import Base, BigId, utcnow

__all__ = [
    "Customer",
    "CustomerProduct",
    "Fulfillment",
    "Order",
    "OrderDiscountCode",
    "OrderLine",
    "Product",
    "TimelineEntry",
]


class Customer(Base):
    """One profile per person per shop, not per order: guests are matched by email, then phone."""

    __tablename__ = "customers"
    __table_args__ = (
        sa.UniqueConstraint("shop_id", "platform_customer_id", name="uq_customers_shop_platform_id"),
        # Both platforms keep customer emails unique per store; here it also makes two concurrent
        # first orders from one person land on one profile.
        sa.Index(
            "uq_customers_shop_email",
            "shop_id",
            "email",
            unique=True,
            sqlite_where=sa.text("email IS NOT NULL"),
            postgresql_where=sa.text("email IS NOT NULL"),
        ),
        sa.Index("ix_customers_shop_phone", "shop_id", "phone_key"),
        sa.Index("ix_customers_shop_segment", "shop_id", "segment"),
        sa.Index("ix_customers_rep", "rep_id"),
        sa.Index("ix_customers_shop_pool", "shop_id", "pool_since"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    # None for a guest we know only from orders.
    platform_customer_id: Mapped[str | None] = mapped_column(sa.String(64))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    first_name: Mapped[str | None] = mapped_column(sa.String(255))
    last_name: Mapped[str | None] = mapped_column(sa.String(255))
    phone: Mapped[str | None] = mapped_column(sa.String(64))
    locale: Mapped[str | None] = mapped_column(sa.String(32))
    city: Mapped[str | None] = mapped_column(sa.String(255))
    region: Mapped[str | None] = mapped_column(sa.String(255))
    region_code: Mapped[str | None] = mapped_column(sa.String(16))
    country_code: Mapped[str | None] = mapped_column(sa.String(2))
    postal_code: Mapped[str | None] = mapped_column(sa.String(32))
    # Digits of the phone number (with country code when given): the key guests are matched on.
    phone_key: Mapped[str | None] = mapped_column(sa.String(32))
    time_zone: Mapped[str | None] = mapped_column(sa.String(64))
    time_zone_source: Mapped[str | None] = mapped_column(sa.String(16))  # "address" or "shop"
    # Purchases, kept by deltas as orders change (never by rescanning the customer's history).
    orders_count: Mapped[int] = mapped_column(default=0, server_default="0")
    total_spent: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2), default=Decimal("0"), server_default="0")
    cancelled_count: Mapped[int] = mapped_column(default=0, server_default="0")
    refunded_count: Mapped[int] = mapped_column(default=0, server_default="0")
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    first_order_at: Mapped[dt.datetime | None]
    last_order_at: Mapped[dt.datetime | None]
    # When the customer counts as lapsed: the last order plus twice their usual interval between
    # orders (None with fewer than two orders). Kept with the dates so segments stay one SQL expression.
    lapses_at: Mapped[dt.datetime | None]
    segment: Mapped[str] = mapped_column(sa.String(16), default="prospect", server_default="prospect")
    # Consent per channel, each on its own clock (consent webhooks arrive apart from customer ones).
    email_consent: Mapped[str | None] = mapped_column(sa.String(32))
    email_consent_at: Mapped[dt.datetime | None]
    sms_consent: Mapped[str | None] = mapped_column(sa.String(32))
    sms_consent_at: Mapped[dt.datetime | None]
    call_consent: Mapped[str | None] = mapped_column(sa.String(32))
    call_consent_at: Mapped[dt.datetime | None]
    deleted_at: Mapped[dt.datetime | None]
    # The platform's tags (a JSON list), read back over the API since 2025-01 webhooks dropped them;
    # ordered by their own clock like consent.
    tags: Mapped[str | None] = mapped_column(sa.Text)
    tags_at: Mapped[dt.datetime | None]
    # What write-back last put on the platform record: a write happens only when the profile differs
    # from this, which is also what stops the platform's resulting customers/update from echoing.
    # The customer's dedicated rep (integration.reps), kept across orders; None while they wait in the pool.
    rep_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("reps.id", ondelete="SET NULL", name="fk_customers_rep_id")
    )
    rep_assigned_at: Mapped[dt.datetime | None]
    # Placed a qualifying order but every book was full: waiting for room since then (the pool).
    pool_since: Mapped[dt.datetime | None]
    written_segment: Mapped[str | None] = mapped_column(sa.String(16))
    written_rep: Mapped[str | None] = mapped_column(sa.String(320))
    written_at: Mapped[dt.datetime | None]
    writeback_error: Mapped[str | None] = mapped_column(sa.Text)
    # The platform's own change time of the data we hold; older payloads never overwrite newer.
    source_updated_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        sa.UniqueConstraint("shop_id", "platform_order_id", name="uq_orders_shop_platform_id"),
        sa.Index("ix_orders_customer_placed", "customer_id", "placed_at"),
        sa.Index("ix_orders_counted_customer_placed", "counted_customer_id", "placed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    platform_order_id: Mapped[str] = mapped_column(sa.String(64))
    customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customers.id", ondelete="SET NULL"))
    name: Mapped[str | None] = mapped_column(sa.String(64))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    total_price: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))
    # Normalised across platforms (see integration.events.changes.OrderStatus); the platform's own words beside it.
    status: Mapped[str] = mapped_column(sa.String(32))
    platform_status: Mapped[str | None] = mapped_column(sa.String(64))
    placed_at: Mapped[dt.datetime | None]
    # When it was paid (the earliest time the platform's descriptions gave; None: not paid, or not known
    # yet): the thank-you is timed from it.
    paid_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
    test: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    ship_city: Mapped[str | None] = mapped_column(sa.String(255))
    ship_region: Mapped[str | None] = mapped_column(sa.String(255))
    ship_country_code: Mapped[str | None] = mapped_column(sa.String(2))
    # What this order currently adds to whose totals (None: nothing, e.g. cancelled), so that a change
    # is applied to the profile as a delta instead of recomputing it from the customer's history.
    counted_customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customers.id", ondelete="SET NULL"))
    counted_total: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))
    source_updated_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.id"
    )


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    platform_line_id: Mapped[str | None] = mapped_column(sa.String(64))
    product_id: Mapped[str | None] = mapped_column(sa.String(64))
    variant_id: Mapped[str | None] = mapped_column(sa.String(64))
    title: Mapped[str] = mapped_column(sa.String(512))
    sku: Mapped[str | None] = mapped_column(sa.String(255))
    quantity: Mapped[int]
    price: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))

    order: Mapped[Order] = relationship(back_populates="lines")


class OrderDiscountCode(Base):
    """A discount code the customer used on an order (replaced with the order's lines on each newer
    version): what thank-you codes are matched against."""

    __tablename__ = "order_discount_codes"
    __table_args__ = (sa.Index("ix_order_discount_codes_order", "order_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(sa.String(255))  # as the platform reports it
    amount: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))  # what it took off this order
    kind: Mapped[str | None] = mapped_column(sa.String(32))  # percentage, fixed_amount, shipping...


class Fulfillment(Base):
    """A shipment of (part of) an order; the delivery time is what later check-ins hang off."""

    __tablename__ = "fulfillments"
    __table_args__ = (
        sa.UniqueConstraint("shop_id", "platform_fulfillment_id", name="uq_fulfillments_shop_platform_id"),
        sa.Index("ix_fulfillments_shop_order", "shop_id", "platform_order_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    platform_fulfillment_id: Mapped[str] = mapped_column(sa.String(64))
    # Joined to orders by platform id: a fulfilment may arrive before its order.
    platform_order_id: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(32))
    tracking_company: Mapped[str | None] = mapped_column(sa.String(255))
    tracking_number: Mapped[str | None] = mapped_column(sa.String(255))
    tracking_url: Mapped[str | None] = mapped_column(sa.Text)
    shipped_at: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]
    # Two clocks: tracking steps move the status on their own time, and may arrive before the
    # fulfilment that describes the parcel (which must still fill in tracking details).
    source_updated_at: Mapped[dt.datetime]
    status_updated_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CustomerProduct(Base):
    """What a customer has bought, per product, kept by deltas (the 'bought most' list)."""

    __tablename__ = "customer_products"
    __table_args__ = (sa.UniqueConstraint("customer_id", "product_key", name="uq_customer_products"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"))
    # The platform product id, or the title for lines without one.
    product_key: Mapped[str] = mapped_column(sa.String(512))
    title: Mapped[str] = mapped_column(sa.String(512))
    quantity: Mapped[int] = mapped_column(default=0)


class TimelineEntry(Base):
    """Everything that happened with a person, for "last time you told me…"; one row per fact."""

    __tablename__ = "customer_timeline"
    __table_args__ = (
        sa.UniqueConstraint("customer_id", "kind", "ref", name="uq_customer_timeline_fact"),
        sa.Index("ix_customer_timeline_customer_at", "customer_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(sa.String(32))
    ref: Mapped[str] = mapped_column(sa.String(128))
    summary: Mapped[str] = mapped_column(sa.Text)


class Product(Base):
    """The shop's catalogue as far as customers bought from it: what a product is (its type), fetched
    once from the platform because neither platform's order payload carries it."""

    __tablename__ = "products"
    __table_args__ = (sa.UniqueConstraint("shop_id", "platform_product_id", name="uq_products_shop_platform_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    platform_product_id: Mapped[str] = mapped_column(sa.String(64))
    title: Mapped[str | None] = mapped_column(sa.String(512))
    product_type: Mapped[str | None] = mapped_column(sa.String(255))
    fetched_at: Mapped[dt.datetime | None]
