"""SQLAlchemy models: shops, the stored webhook events, and what processing makes of them.

Platform ids are stored as strings: Shopify ids are 64-bit and BigCommerce's are small integers, and
neither is ever arithmetic.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from integration.db import Base, utcnow

__all__ = [
    "Base",
    "Customer",
    "CustomerProduct",
    "EventStatus",
    "Fulfillment",
    "Order",
    "OrderLine",
    "Platform",
    "Product",
    "Shop",
    "ShopState",
    "StaffRole",
    "StaffUser",
    "SyncCursor",
    "TimelineEntry",
    "TokenState",
    "WebhookEvent",
]

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Platform(enum.StrEnum):
    SHOPIFY = "shopify"
    BIGCOMMERCE = "bigcommerce"


class ShopState(enum.StrEnum):
    ACTIVE = "active"
    UNINSTALLED = "uninstalled"


class TokenState(enum.StrEnum):
    OK = "ok"
    # The platform refused to refresh the token: ops must look (the merchant may need to reopen the
    # app); nothing retries it in a loop.
    REFRESH_FAILED = "refresh_failed"


class StaffRole(enum.StrEnum):
    ADMIN = "admin"  # the shop owner: the merchant's settings
    STAFF = "staff"  # signed in through the platform, not (yet) on the roster
    REP = "rep"  # on the merchant's roster of dedicated people


class EventStatus(enum.StrEnum):
    RECEIVED = "received"
    PROCESSING = "processing"
    DONE = "done"
    IGNORED = "ignored"
    QUARANTINED = "quarantined"
    FAILED = "failed"


class Shop(Base):
    __tablename__ = "shops"
    __table_args__ = (sa.UniqueConstraint("platform", "identifier", name="uq_shops_platform_identifier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(sa.String(16))
    # The Shopify *.myshopify.com domain, or the BigCommerce store hash.
    identifier: Mapped[str] = mapped_column(sa.String(255))
    state: Mapped[str] = mapped_column(sa.String(16), default=ShopState.ACTIVE)
    # Tokens and secrets are Fernet ciphertext (integration.crypto), never logged or printed.
    access_token_enc: Mapped[str | None] = mapped_column(sa.Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(sa.Text)
    access_token_expires_at: Mapped[dt.datetime | None]  # None: a token that does not expire
    refresh_token_expires_at: Mapped[dt.datetime | None]
    token_state: Mapped[str] = mapped_column(sa.String(16), default=TokenState.OK, server_default="ok")
    token_error: Mapped[str | None] = mapped_column(sa.Text)
    scopes: Mapped[str | None] = mapped_column(sa.String(1024))
    # SHA-256 of the per-shop webhook token: enough to check a delivery, useless to a thief ...
    webhook_token_hash: Mapped[str] = mapped_column(sa.String(64))
    # ... and the token itself, encrypted, for (re)creating BigCommerce hooks that must send it.
    webhook_token_enc: Mapped[str | None] = mapped_column(sa.Text)
    installed_at: Mapped[dt.datetime | None]
    uninstalled_at: Mapped[dt.datetime | None]
    # The merchant's settings (the settings page).
    name: Mapped[str | None] = mapped_column(sa.String(255))
    postal_address: Mapped[str | None] = mapped_column(sa.Text)
    sender_name: Mapped[str | None] = mapped_column(sa.String(255))
    sender_email: Mapped[str | None] = mapped_column(sa.String(320))
    # The last webhook-subscription health check, for ops (JSON: what was found, created, re-activated).
    subscriptions_checked_at: Mapped[dt.datetime | None]
    subscriptions_report: Mapped[str | None] = mapped_column(sa.Text)
    # IANA zone: where a customer's own zone cannot be known, theirs falls back to this.
    time_zone: Mapped[str | None] = mapped_column(sa.String(64))
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    # Spend from which a customer is a VIP: the merchant's figure if set, else the shop's top 10 %,
    # recomputed by the segments job (so no event ever ranks the whole shop).
    vip_threshold_override: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))
    vip_threshold: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))
    # The customer attributes write-back defined on a BigCommerce store (made once, then reused).
    bc_segment_attribute_id: Mapped[int | None]
    bc_rep_attribute_id: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:  # tokens stay out of reprs, and so out of logs and tracebacks
        return f"<Shop {self.id} {self.platform}:{self.identifier} {self.state}>"


class StaffUser(Base):
    """A person at the shop, known from the platform's sign-in (Shopify session token, BigCommerce load)."""

    __tablename__ = "staff_users"
    __table_args__ = (sa.UniqueConstraint("shop_id", "platform_user_id", name="uq_staff_users_shop_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    platform_user_id: Mapped[str] = mapped_column(sa.String(64))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    name: Mapped[str | None] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16), default=StaffRole.STAFF)
    # Removed by the platform (BigCommerce remove_user) or by the merchant: kept for history, not signed in.
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime | None]


class WebhookEvent(Base):
    """One delivery as the platform sent it, stored before we answer, plus its processing state."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        sa.UniqueConstraint("platform", "shop", "dedupe_key", name="uq_webhook_events_dedupe"),
        sa.Index(
            "uq_webhook_events_delivery",
            "platform",
            "shop",
            "delivery_id",
            unique=True,
            sqlite_where=sa.text("delivery_id IS NOT NULL"),
            postgresql_where=sa.text("delivery_id IS NOT NULL"),
        ),
        # Every index here is a page written on each delivery, so the request path touches only the
        # dedupe key and this one: the events waiting to be (or being re-) queued, for the relay
        # (queued_at IS NULL) and the sweep (queued_at long ago). Rows leave it when processed.
        sa.Index(
            "ix_webhook_events_waiting",
            "queued_at",
            "id",
            sqlite_where=sa.text("status = 'received'"),
            postgresql_where=sa.text("status = 'received'"),
        ),
        # What ops and the sweep look for otherwise; a status these rows only reach in a worker.
        sa.Index(
            "ix_webhook_events_attention",
            "status",
            "id",
            sqlite_where=sa.text("status IN ('processing', 'failed', 'quarantined')"),
            postgresql_where=sa.text("status IN ('processing', 'failed', 'quarantined')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(sa.String(16))
    # Shopify domain or BigCommerce store hash, as delivered (the shop may not be registered yet).
    shop: Mapped[str] = mapped_column(sa.String(255))
    topic: Mapped[str] = mapped_column(sa.String(255))
    # What the platform calls this delivery (Shopify webhook id; BigCommerce webhook-id or hash).
    webhook_id: Mapped[str] = mapped_column(sa.String(255))
    # Uniqueness key: Shopify webhook id; BigCommerce "scope:hash".
    dedupe_key: Mapped[str] = mapped_column(sa.String(600))
    # Standard Webhooks ``webhook-id`` (BigCommerce), a second dedupe key when present.
    delivery_id: Mapped[str | None] = mapped_column(sa.String(255))
    event_id: Mapped[str | None] = mapped_column(sa.String(255))
    api_version: Mapped[str | None] = mapped_column(sa.String(255))
    triggered_at: Mapped[dt.datetime | None]
    subscription_name: Mapped[str | None] = mapped_column(sa.String(255))
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)
    status: Mapped[str] = mapped_column(sa.String(16), default=EventStatus.RECEIVED)
    attempts: Mapped[int] = mapped_column(default=0)
    duplicates: Mapped[int] = mapped_column(default=0)
    # The last error, or why the event was ignored, quarantined or finished early.
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    processed_at: Mapped[dt.datetime | None]
    # Not before this time: set when a transient failure outlived RQ's retries and the sweep takes over.
    retry_at: Mapped[dt.datetime | None]

    def __repr__(self) -> str:
        return f"<WebhookEvent {self.id} {self.platform}:{self.shop} {self.topic} {self.status}>"


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
    # Normalised across platforms (see integration.domain.OrderStatus); the platform's own words beside it.
    status: Mapped[str] = mapped_column(sa.String(32))
    platform_status: Mapped[str | None] = mapped_column(sa.String(64))
    placed_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
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


class SyncCursor(Base):
    """How far reconciliation has read one kind of resource of one shop, and how its last run went."""

    __tablename__ = "sync_cursors"
    __table_args__ = (sa.UniqueConstraint("shop_id", "resource", name="uq_sync_cursors_shop_resource"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    resource: Mapped[str] = mapped_column(sa.String(32))  # "orders", "customers", ...
    # Everything the platform changed before this moment has been stored as an event.
    cursor_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    last_found: Mapped[int] = mapped_column(default=0, server_default="0")
    last_stored: Mapped[int] = mapped_column(default=0, server_default="0")
