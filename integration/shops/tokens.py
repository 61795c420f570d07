"""A shop's access token, fresh: Shopify's expiring offline tokens refreshed once, by one worker.

Shopify's expiring offline tokens last an hour and come with a *rotating* refresh token: each refresh
uses the refresh token up and returns a new pair (research §4.1). Two workers refreshing the same shop
at once would each spend the same refresh token, and the loser's pair (or the winner's, depending on
the order Shopify sees them) is dead. So:

* a token expiring within :data:`REFRESH_MARGIN` is refreshed under a per-shop Redis lock;
* whoever gets the lock re-reads the row first: another worker may have refreshed meanwhile, and then
  its token is simply used;
* the new pair is stored in one UPDATE, only if the refresh token it replaces is still the stored one;
* a refusal (``invalid_grant`` and friends) marks the shop ``refresh_failed`` with the reason, for ops,
  and raises :class:`TokenRefreshFailed`; later calls fail fast on that mark instead of asking Shopify
  again in a loop. A reinstall (``register_shop``) clears it;
* Shopify being down (5xx, network) raises ``TransientPlatformError``: the caller's job retries later.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import requests
import sqlalchemy as sa
from redis.exceptions import LockError

from integration.core.db import utcnow
from integration.core.runtime import Runtime
from integration.platforms.interfaces import GrantedToken, ShopAccess, TokenRefused, TransientPlatformError
from integration.platforms.registry import parts_for
from integration.shops.models import Shop, ShopState, TokenState

log = logging.getLogger(__name__)

REFRESH_MARGIN = dt.timedelta(minutes=5)
# The lock outlives one refresh call (connect + read timeouts) with room to spare; a waiter gives up
# (transiently) well before an RQ job timeout.
LOCK_TTL = 60
LOCK_WAIT = 30
MAX_TOKEN_ERROR = 500


class ShopNotInstalled(LookupError):
    """The shop is gone or uninstalled: there is no token to be had."""


class TokenRefreshFailed(Exception):
    """Shopify refused to refresh this shop's token (now or earlier): permanent until the merchant
    reopens (reinstalls) the app. The message is safe to log and show."""


@dataclass(frozen=True)
class _Row:
    shop_id: int
    platform: str
    identifier: str
    access_token_enc: str | None
    refresh_token_enc: str | None
    access_expires_at: dt.datetime | None
    token_state: str
    token_error: str | None


def _read(runtime: Runtime, shop_id: int) -> _Row:
    with runtime.session() as session:
        shop = session.get(Shop, shop_id, populate_existing=True)
        if shop is None or shop.state != ShopState.ACTIVE:
            raise ShopNotInstalled(f"shop {shop_id} is not installed")
        return _Row(
            shop.id,
            shop.platform,
            shop.identifier,
            shop.access_token_enc,
            shop.refresh_token_enc,
            shop.access_token_expires_at,
            shop.token_state,
            shop.token_error,
        )


def needs_refresh(
    platform: str,
    refresh_token_enc: str | None,
    expires_at: dt.datetime | None,
    *,
    now: dt.datetime | None = None,
    margin: dt.timedelta = REFRESH_MARGIN,
) -> bool:
    """A token that expires within ``margin`` and can be refreshed (a token without an expiry, or without
    a refresh token, is used as it is). Only platforms with a ``refresh_token`` part issue refresh tokens."""
    if not refresh_token_enc or expires_at is None or parts_for(platform).refresh_token is None:
        return False
    return expires_at <= (now or utcnow()) + margin


def _access(runtime: Runtime, row: _Row) -> ShopAccess:
    return ShopAccess(row.shop_id, row.identifier, runtime.cipher.decrypt_optional(row.access_token_enc))


def _check_not_failed(row: _Row) -> None:
    if row.token_state == TokenState.REFRESH_FAILED:
        raise TokenRefreshFailed(
            f"shop {row.shop_id}: Shopify refused to refresh its token ({row.token_error or 'no reason given'}); "
            "the merchant must open the app from their Shopify admin again"
        )


def fresh_access(
    runtime: Runtime,
    shop_id: int,
    *,
    margin: dt.timedelta = REFRESH_MARGIN,
    session: requests.Session | None = None,
) -> ShopAccess:
    """The shop's access with a token good for at least ``margin`` (refreshed if need be).

    Raises ShopNotInstalled, TokenRefreshFailed (permanent) or TransientPlatformError.
    """
    row = _read(runtime, shop_id)
    _check_not_failed(row)
    if not needs_refresh(row.platform, row.refresh_token_enc, row.access_expires_at, margin=margin):
        return _access(runtime, row)
    lock = runtime.redis.lock(f"shop-token-refresh:{shop_id}", timeout=LOCK_TTL, blocking_timeout=LOCK_WAIT)
    if not lock.acquire():
        raise TransientPlatformError(f"shop {shop_id}: another worker's token refresh is taking long", retry_after=10)
    try:
        # Another worker may have refreshed (or failed to) while we waited for the lock.
        row = _read(runtime, shop_id)
        _check_not_failed(row)
        if not needs_refresh(row.platform, row.refresh_token_enc, row.access_expires_at, margin=margin):
            return _access(runtime, row)
        return _refresh(runtime, row, session)
    finally:
        try:
            lock.release()
        except LockError:  # expired meanwhile (a very slow refresh): nothing of ours to release
            log.warning("shop %s: token refresh lock expired before release", shop_id)


def _refresh(runtime: Runtime, row: _Row, session: requests.Session | None) -> ShopAccess:
    refresh = parts_for(row.platform).refresh_token
    assert row.refresh_token_enc is not None and refresh is not None  # needs_refresh checked both
    try:
        grant = refresh(runtime, row.identifier, runtime.cipher.decrypt(row.refresh_token_enc), session)
    except TokenRefused as exc:
        reason = str(exc)[:MAX_TOKEN_ERROR]
        mark_refresh_failed(runtime, row.shop_id, reason)
        log.error("shop %s: token refresh refused (%s); marked refresh_failed", row.shop_id, reason)
        raise TokenRefreshFailed(f"shop {row.shop_id}: {reason}") from None
    if not store_grant(runtime, row.shop_id, grant, replaces=row.refresh_token_enc):
        # Cannot happen while everyone refreshes under the lock; if it does, the stored pair is the
        # newer one and ours is already spent: read it back rather than overwrite it.
        log.warning("shop %s: token pair changed during refresh; using the stored one", row.shop_id)
        return _access(runtime, _read(runtime, row.shop_id))
    log.info("shop %s: access token refreshed (valid until %s)", row.shop_id, grant.access_expires_at)
    return ShopAccess(row.shop_id, row.identifier, grant.access_token)


def store_grant(runtime: Runtime, shop_id: int, grant: GrantedToken, *, replaces: str | None) -> bool:
    """Store a refreshed pair in one UPDATE, if the refresh token it replaces is still the stored one."""
    cipher = runtime.cipher
    values: dict[str, object] = {
        "access_token_enc": cipher.encrypt(grant.access_token),
        "access_token_expires_at": grant.access_expires_at,
        "token_state": TokenState.OK,
        "token_error": None,
        "updated_at": utcnow(),
    }
    if grant.refresh_token:
        values["refresh_token_enc"] = cipher.encrypt(grant.refresh_token)
        values["refresh_token_expires_at"] = grant.refresh_expires_at
    if grant.scopes:
        values["scopes"] = grant.scopes
    with runtime.session() as session:
        result = session.execute(
            sa.update(Shop)
            .where(Shop.id == shop_id, Shop.state == ShopState.ACTIVE, Shop.refresh_token_enc == replaces)
            .values(**values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_refresh_failed(runtime: Runtime, shop_id: int, reason: str) -> None:
    with runtime.session() as session:
        session.execute(
            sa.update(Shop)
            .where(Shop.id == shop_id)
            .values(token_state=TokenState.REFRESH_FAILED, token_error=reason[:MAX_TOKEN_ERROR], updated_at=utcnow())
        )


def processing_access(runtime: Runtime, shop_id: int) -> ShopAccess:
    """Access for event processing: refreshed when due. A shop whose refresh was refused gets no token
    (topics that need the API are then quarantined for ops; offline topics are still applied)."""
    try:
        return fresh_access(runtime, shop_id)
    except TokenRefreshFailed:
        row = _read(runtime, shop_id)
        return ShopAccess(row.shop_id, row.identifier, None)


__all__ = [
    "REFRESH_MARGIN",
    "ShopNotInstalled",
    "TokenRefreshFailed",
    "fresh_access",
    "mark_refresh_failed",
    "needs_refresh",
    "processing_access",
    "store_grant",
]
