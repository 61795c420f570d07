"""Shops: registering one by hand (until the install flow lands) and looking them up."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.db import utcnow
from integration.models import Platform, Shop, ShopState
from integration.platforms.bigcommerce import STORE_HASH_RE
from integration.platforms.shopify import valid_shop_domain


class ShopError(ValueError):
    """A shop cannot be registered as asked (the message is safe to show)."""


def hash_webhook_token(token: str) -> str:
    """What we keep of a per-shop webhook token: its SHA-256, compared in constant time on delivery."""
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_identifier(platform: str, identifier: str) -> str:
    value = identifier.strip().lower()
    if platform == Platform.SHOPIFY:
        if not valid_shop_domain(value):
            raise ShopError(f"not a valid *.myshopify.com domain: {identifier!r}")
    elif platform == Platform.BIGCOMMERCE:
        if not STORE_HASH_RE.fullmatch(value):
            raise ShopError(f"not a valid BigCommerce store hash: {identifier!r}")
    else:
        raise ShopError(f"unknown platform {platform!r}")
    return value


@dataclass(frozen=True)
class RegisteredShop:
    id: int
    platform: str
    identifier: str
    webhook_token: str  # shown once, to whoever registered the shop


def register_shop(session: Session, platform: str, identifier: str, access_token: str) -> RegisteredShop:
    """Create or re-activate a shop with a fresh webhook token (the old token stops working)."""
    identifier = normalise_identifier(platform, identifier)
    if not access_token.strip():
        raise ShopError("an access token is required")
    webhook_token = secrets.token_urlsafe(32)
    shop = session.scalar(sa.select(Shop).where(Shop.platform == platform, Shop.identifier == identifier))
    if shop is None:
        shop = Shop(platform=platform, identifier=identifier)
        session.add(shop)
    shop.access_token = access_token.strip()
    shop.webhook_token_hash = hash_webhook_token(webhook_token)
    shop.state = ShopState.ACTIVE
    shop.updated_at = utcnow()
    session.flush()
    return RegisteredShop(shop.id, platform, identifier, webhook_token)


def find_shop(session: Session, platform: str, identifier: str) -> Shop | None:
    return session.scalar(sa.select(Shop).where(Shop.platform == platform, Shop.identifier == identifier))
