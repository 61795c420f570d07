"""Shops and the people who work in them (staff, reps on the roster)."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from integration.core.db import Base, utcnow

__all__ = ["Platform", "Shop", "ShopState", "StaffRole", "StaffUser", "TokenState"]


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


class Shop(Base):
    __tablename__ = "shops"
    __table_args__ = (sa.UniqueConstraint("platform", "identifier", name="uq_shops_platform_identifier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(sa.String(16))
    # The Shopify *.myshopify.com domain, or the BigCommerce store hash.
    identifier: Mapped[str] = mapped_column(sa.String(255))
    state: Mapped[str] = mapped_column(sa.String(16), default=ShopState.ACTIVE)
    # Tokens and secrets are Fernet ciphertext (integration.core.crypto), never logged or printed.
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
    # The shop's name, as the platform calls it (read with the other shop facts).
    name: Mapped[str | None] = mapped_column(sa.String(255))
    # The merchant's settings (the settings page).
    postal_address: Mapped[str | None] = mapped_column(sa.Text)
    sender_name: Mapped[str | None] = mapped_column(sa.String(255))
    sender_email: Mapped[str | None] = mapped_column(sa.String(320))
    # The last webhook-subscription health check, for ops (JSON: what was found, created, re-activated).
    subscriptions_checked_at: Mapped[dt.datetime | None]
    subscriptions_report: Mapped[str | None] = mapped_column(sa.Text)
    # IANA zone in effect: where a customer's own zone cannot be known, theirs falls back to this. It is
    # the merchant's override when they set one on the settings page, else the platform's own zone
    # (integration.shops.facts keeps the three together and re-resolves the customers that use it).
    time_zone: Mapped[str | None] = mapped_column(sa.String(64))
    time_zone_override: Mapped[str | None] = mapped_column(sa.String(64))
    platform_time_zone: Mapped[str | None] = mapped_column(sa.String(64))
    # Read from the platform at install and at every subscription check (``name`` above too).
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    owner_email: Mapped[str | None] = mapped_column(sa.String(320))  # PII: never logged
    primary_domain: Mapped[str | None] = mapped_column(sa.String(255))
    facts_read_at: Mapped[dt.datetime | None]
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
    # The platform says this person owns the shop (Shopify ``account_owner``, BigCommerce ``owner``):
    # what makes them the admin, and what they lose with the role when ownership moves to someone else.
    # An admin who is not the owner (the merchant's choice) stays admin whoever owns the shop.
    is_owner: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Removed by the platform (BigCommerce remove_user) or by the merchant: kept for history, not signed in.
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime | None]
