"""One place that builds API clients for a shop, so every job talks to the platforms the same way.

Jobs other than event processing (reconciliation, write-back, the catalogue) need a client for one
shop; they get it here, from the settings and the shop's row, rather than each wiring URLs and tokens.
"""

from __future__ import annotations

import requests
import sqlalchemy as sa
from redis import Redis
from sqlalchemy.orm import Session

from integration.config import Settings
from integration.crypto import TokenCipher
from integration.models import Shop, ShopState, TokenState
from integration.platforms.base import BadPayload, ShopAccess
from integration.platforms.bigcommerce import STORE_HASH_RE, BigCommerceClient
from integration.platforms.rate_budget import StoreBudget
from integration.platforms.shopify_api import ShopifyGraphQL
from integration.runtime import Runtime
from integration.shop_tokens import ShopNotInstalled, fresh_access, needs_refresh
from integration.shops import shop_access as access_of


def shop_access(
    session: Session, cipher: TokenCipher, shop_id: int, *, runtime: Runtime | None = None
) -> tuple[str, ShopAccess] | None:
    """(platform, access) for an installed shop, token decrypted; None when it is gone or not active.

    With ``runtime``, a Shopify token about to expire is refreshed first (once across all workers,
    ``integration.shop_tokens``); a shop whose refresh Shopify refused raises TokenRefreshFailed, and
    Shopify being down TransientPlatformError.
    """
    shop = session.scalar(sa.select(Shop).where(Shop.id == shop_id))
    if shop is None or shop.state != ShopState.ACTIVE:
        return None
    if runtime is not None and (
        shop.token_state == TokenState.REFRESH_FAILED
        or needs_refresh(shop.platform, shop.refresh_token_enc, shop.access_token_expires_at)
    ):
        try:
            return shop.platform, fresh_access(runtime, shop_id)
        except ShopNotInstalled:
            return None
    return shop.platform, access_of(cipher, shop)


def _token(access: ShopAccess) -> str:
    if not access.access_token:
        raise BadPayload(f"shop {access.shop_id} has no access token")
    return access.access_token


def shopify_graphql(
    settings: Settings, access: ShopAccess, *, session: requests.Session | None = None
) -> ShopifyGraphQL:
    return ShopifyGraphQL(
        settings.shopify_admin_url,
        access.identifier,
        _token(access),
        settings.shopify_api_version,
        session=session,
    )


def bigcommerce_client(
    settings: Settings,
    access: ShopAccess,
    *,
    session: requests.Session | None = None,
    redis: Redis | None = None,
) -> BigCommerceClient:
    """With ``redis``, the client spends the store's quota and concurrency cap shared by all workers."""
    if not STORE_HASH_RE.fullmatch(access.identifier):
        raise BadPayload(f"shop {access.shop_id} has no valid BigCommerce store hash")
    budget = (
        StoreBudget(redis, access.identifier, max_concurrency=settings.bigcommerce_max_concurrency)
        if redis is not None
        else None
    )
    return BigCommerceClient(
        settings.bigcommerce_api_url, access.identifier, _token(access), session=session, budget=budget
    )


__all__ = ["bigcommerce_client", "shop_access", "shopify_graphql"]
