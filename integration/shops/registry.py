"""Shops: registering one by hand (until the install flow lands) and looking them up."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.crypto import TokenCipher
from integration.core.db import utcnow
from integration.platforms.interfaces import ShopAccess
from integration.platforms.registry import UnknownPlatform, parts_for
from integration.shops.models import Shop, ShopState, TokenState


class ShopError(ValueError):
    """A shop cannot be registered as asked (the message is safe to show)."""


def hash_webhook_token(token: str) -> str:
    """What we keep of a per-shop webhook token: its SHA-256, compared in constant time on delivery."""
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_identifier(platform: str, identifier: str) -> str:
    try:
        parts = parts_for(platform)
    except UnknownPlatform:
        raise ShopError(f"unknown platform {platform!r}") from None
    value = parts.normalise_identifier(identifier)
    if value is None:
        raise ShopError(f"not {parts.identifier_hint}: {identifier!r}")
    return value


@dataclass(frozen=True)
class TokenGrant:
    """What a platform's token endpoint granted besides the access token."""

    refresh_token: str | None = None
    access_expires_at: dt.datetime | None = None
    refresh_expires_at: dt.datetime | None = None
    scopes: str | None = None


@dataclass(frozen=True)
class RegisteredShop:
    id: int
    platform: str
    identifier: str
    webhook_token: str  # shown once, to whoever registered the shop


def register_shop(
    session: Session,
    cipher: TokenCipher,
    platform: str,
    identifier: str,
    access_token: str,
    *,
    grant: TokenGrant | None = None,
) -> RegisteredShop:
    """Create or re-activate a shop with its (encrypted) tokens and a fresh webhook token (the old one
    stops working). A reinstall brings back the same row, with all its data."""
    identifier = normalise_identifier(platform, identifier)
    if not access_token.strip():
        raise ShopError("an access token is required")
    webhook_token = secrets.token_urlsafe(32)
    shop = session.scalar(sa.select(Shop).where(Shop.platform == platform, Shop.identifier == identifier))
    if shop is None:
        shop = Shop(platform=platform, identifier=identifier)
        session.add(shop)
    now = utcnow()
    grant = grant or TokenGrant()
    shop.access_token_enc = cipher.encrypt(access_token.strip())
    shop.refresh_token_enc = cipher.encrypt_optional(grant.refresh_token)
    shop.access_token_expires_at = grant.access_expires_at
    shop.refresh_token_expires_at = grant.refresh_expires_at
    shop.scopes = grant.scopes
    shop.token_state = TokenState.OK
    shop.token_error = None
    shop.webhook_token_hash = hash_webhook_token(webhook_token)
    shop.webhook_token_enc = cipher.encrypt(webhook_token)
    if shop.state != ShopState.ACTIVE or shop.installed_at is None:
        shop.installed_at = now
    shop.state = ShopState.ACTIVE
    shop.uninstalled_at = None
    shop.updated_at = now
    session.flush()
    return RegisteredShop(shop.id, platform, identifier, webhook_token)


def uninstall_shop(session: Session, shop_id: int, *, expected_token_enc: str | None = None) -> bool:
    """The merchant removed the app: tokens destroyed, shop marked; its data stays for a reinstall.
    Returns False when it was already uninstalled (uninstall notices repeat). With ``expected_token_enc``,
    only while the shop still holds that token (the one the platform refused: a reinstall or refresh
    since brought a good one, which is not destroyed)."""
    condition = [Shop.id == shop_id, Shop.state == ShopState.ACTIVE]
    if expected_token_enc is not None:
        condition.append(Shop.access_token_enc == expected_token_enc)
    result = session.execute(
        sa.update(Shop)
        .where(*condition)
        .values(
            state=ShopState.UNINSTALLED,
            uninstalled_at=utcnow(),
            access_token_enc=None,
            refresh_token_enc=None,
            access_token_expires_at=None,
            refresh_token_expires_at=None,
            webhook_token_enc=None,
            updated_at=utcnow(),
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def shop_access(cipher: TokenCipher, shop: Shop) -> ShopAccess:
    """Who to call back at the platform for this shop, with its token decrypted (for this call only)."""
    return ShopAccess(shop.id, shop.identifier, cipher.decrypt_optional(shop.access_token_enc))


def find_shop(session: Session, platform: str, identifier: str) -> Shop | None:
    return session.scalar(sa.select(Shop).where(Shop.platform == platform, Shop.identifier == identifier))
