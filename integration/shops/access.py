"""A shop's platform access for a job: the token decrypted, refreshed first when it is about to expire."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.crypto import TokenCipher
from integration.core.runtime import Runtime
from integration.platforms.interfaces import ShopAccess
from integration.shops.models import Shop, ShopState, TokenState
from integration.shops.registry import shop_access as access_of
from integration.shops.tokens import ShopNotInstalled, fresh_access, needs_refresh


def shop_access(
    session: Session, cipher: TokenCipher, shop_id: int, *, runtime: Runtime | None = None
) -> tuple[str, ShopAccess] | None:
    """(platform, access) for an installed shop, token decrypted; None when it is gone or not active.

    With ``runtime``, a Shopify token about to expire is refreshed first (once across all workers,
    ``integration.shops.tokens``); a shop whose refresh Shopify refused raises TokenRefreshFailed, and
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
