"""Shopify install (Shopify-managed, and the legacy authorization code grant) and the embedded app's sign-in.

* ``GET /shopify/app``: the embedded app. Shopify opens it with an App Bridge session token (``id_token``
  query parameter, or ``Authorization: Bearer``); that token names the shop and the staff user.
  With the scopes declared in ``shopify.app.toml`` Shopify installs the app itself, without calling
  us, and the first we hear of a shop is this request: the session token is exchanged for an expiring
  offline token (token exchange) and the install finishes here (the same steps as the callback's),
  with no redirect, since Shopify will not show its authorize page inside the admin's frame. The person
  is then signed in and sent to ``/settings`` (the admin) or ``/workspace`` (a rep; ``reps.landing``).
* ``GET /shopify/install`` and ``GET /shopify/callback``: the legacy flow. Shopify's signed link
  (``shop``, ``hmac``, ``timestamp``) sends the merchant to the shop's authorize page with our scopes
  and a random ``state`` also held in a signed, five-minute, HttpOnly cookie; the callback checks the
  state (then spent: the cookie cleared and the nonce recorded as used in Redis), the query's signature
  and freshness and the shop, buys an expiring offline token with the code, and sends the merchant into
  their admin, which opens the embedded app.

Who the person is: the session token names the user but nothing more, so each open of the app also
exchanges it for an **online** token, whose ``associated_user`` gives the person's name, email (kept
only when Shopify says it is verified) and whether they own the shop (``account_owner``). The online
token itself is dropped unused. The account owner is the shop's admin; nobody becomes admin by being
first, and an admin the merchant chose stays one. If Shopify cannot say (down, refused), the person is
signed in with the role we already hold for them (staff, for someone new).

No token, code or session token is ever logged or put into an error message.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import quote

from flask import Blueprint, abort, current_app, redirect, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from redis.exceptions import LockError, RedisError
from werkzeug.wrappers import Response

from integration import runtime_of
from integration.core.config import Settings
from integration.core.runtime import Runtime
from integration.platforms.interfaces import GrantedToken, TransientPlatformError
from integration.platforms.shopify.oauth import (
    AssociatedUser,
    OAuthError,
    SessionToken,
    TokenRefused,
    admin_base,
    authorize_url,
    decode_session_token,
    exchange_code,
    exchange_session_token,
    online_user,
    verify_signed_query,
)
from integration.platforms.shopify.topics import valid_shop_domain
from integration.reps.landing import landing_page
from integration.shops.lifecycle import after_install
from integration.shops.models import Platform, ShopState, TokenState
from integration.shops.registry import TokenGrant, find_shop, register_shop
from integration.shops.staff import record_staff, sign_in
from integration.shops.tokens import store_grant

log = logging.getLogger(__name__)

bp = Blueprint("shopify", __name__, url_prefix="/shopify")

STATE_COOKIE = "shopify_oauth_state"
STATE_MAX_AGE = 300  # seconds the merchant has on Shopify's approval page
STATE_SALT = "shopify-oauth-state"
SHOPIFY_ADMIN = "https://admin.shopify.com"
# A managed install's token exchange plus the shop's registration fit well inside the lock's life; a
# second first-open waits for it less than a browser waits for the page.
INSTALL_LOCK_TTL = 60
INSTALL_LOCK_WAIT = 25


def _runtime() -> Runtime:
    return runtime_of(current_app)


def _settings() -> Settings:
    return _runtime().settings


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=STATE_SALT)


def _query() -> list[tuple[str, str]]:
    return list(request.args.items(multi=True))


def _verified_shop() -> str:
    settings = _settings()
    try:
        return verify_signed_query(_query(), settings.shopify_secrets)
    except OAuthError as exc:
        abort(400, description=str(exc))


def framed(response: Response, shop: str) -> Response:
    """Only this shop's admin may frame the page (Shopify's unified admin, or the shop's own domain)."""
    if valid_shop_domain(shop):
        response.headers["Content-Security-Policy"] = f"frame-ancestors https://{shop} {SHOPIFY_ADMIN}"
    else:
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    response.headers["Referrer-Policy"] = "same-origin"  # the app URL carries the session token
    response.headers["Cache-Control"] = "no-store"
    return response


def _begin_install(shop: str) -> Response:
    settings = _settings()
    if not settings.shopify_api_key:
        abort(503, description="the app's Shopify API key is not configured")
    nonce = secrets.token_urlsafe(32)
    target = authorize_url(
        settings.shopify_admin_url,
        shop,
        client_id=settings.shopify_api_key,
        scopes=settings.shopify_scopes,
        redirect_uri=f"{settings.public_url.rstrip('/')}/shopify/callback",
        state=nonce,
    )
    response = redirect(target, code=302)
    response.set_cookie(
        STATE_COOKIE,
        _serializer().dumps({"nonce": nonce, "shop": shop}),
        max_age=STATE_MAX_AGE,
        path="/shopify/",
        httponly=True,
        secure=settings.serves_https,
        # The callback is a top-level navigation back from Shopify: Lax cookies come with it.
        samesite="Lax",
    )
    return response


@bp.get("/install")
def install() -> Response:
    shop = _verified_shop()
    return _begin_install(shop)


def _consume_state(shop: str) -> None:
    """The callback's ``state`` must be the nonce in our cookie, for this shop, unexpired and unused."""
    raw = request.cookies.get(STATE_COOKIE)
    given = request.args.get("state", "")
    if not raw or not given:
        abort(400, description="the install was not started here (or took too long): start it again from Shopify")
    try:
        held = _serializer().loads(raw, max_age=STATE_MAX_AGE)
    except BadSignature:  # also SignatureExpired
        abort(400, description="the install took too long or was not started here: start it again from Shopify")
    nonce = held.get("nonce") if isinstance(held, dict) else None
    if not isinstance(nonce, str) or not secrets.compare_digest(nonce.encode(), given.encode()):
        abort(400, description="the install's state does not match: start it again from Shopify")
    if held.get("shop") != shop:
        abort(400, description="the install was started for another shop")
    # Single use: a replayed callback (same cookie and state) is refused even before the cookie expires.
    if not _runtime().redis.set(f"shopify-oauth-nonce:{nonce}", b"1", nx=True, ex=STATE_MAX_AGE + 60):
        abort(400, description="this install link was already used: start it again from Shopify")


@bp.get("/callback")
def callback() -> Response:
    shop = _verified_shop()
    _consume_state(shop)
    code = request.args.get("code", "")
    if not code:
        abort(400, description="Shopify sent no authorization code")
    runtime = _runtime()
    settings = runtime.settings
    try:
        grant = exchange_code(
            settings.shopify_admin_url,
            shop,
            code,
            client_id=settings.shopify_api_key,
            client_secret=settings.shopify_api_secret,
        )
    except TokenRefused as exc:
        log.warning("Shopify install for %s: %s", shop, exc)
        abort(400, description="Shopify did not accept the install: start it again from Shopify")
    except TransientPlatformError as exc:
        log.warning("Shopify install for %s: %s", shop, exc)
        abort(503, description="Shopify did not answer: try the install again in a minute")
    with runtime.session() as session:
        registered = register_shop(
            session, runtime.cipher, Platform.SHOPIFY, shop, grant.access_token, grant=_grant(grant)
        )
    log.info("Shopify shop %s installed (shop %s, scopes %s)", shop, registered.id, grant.scopes)
    after_install(runtime, registered.id)
    response = redirect(f"{admin_base(settings.shopify_admin_url, shop)}/admin/apps/{quote(settings.shopify_api_key)}")
    response.delete_cookie(STATE_COOKIE, path="/shopify/")
    return response


def _session_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer " and header[7:].strip():
        return header[7:].strip()
    token = request.args.get("id_token")
    return token or None


@bp.get("/app")
def embedded_app() -> Any:
    """The app inside Shopify admin: install the shop if it is new, sign the person in, then their page
    (the settings for the admin, the workspace for a rep)."""
    settings = _settings()
    token = _session_token()
    if token is None:
        abort(401, description="open the app from your Shopify admin")
    try:
        claims = decode_session_token(token, api_key=settings.shopify_api_key, secret=settings.shopify_api_secret)
    except OAuthError as exc:
        abort(401, description=str(exc))
    named = request.args.get("shop")
    if named is not None and named.lower() != claims.shop:
        abort(401, description="the session token is for another shop")
    runtime = _runtime()
    refresh_failed: str | None = None  # the refused refresh token's ciphertext, when the shop needs healing
    with runtime.session() as session:
        shop = find_shop(session, Platform.SHOPIFY, claims.shop)
        shop_id = shop.id if shop is not None and shop.state == ShopState.ACTIVE else None
        if shop is not None and shop_id is not None and shop.token_state == TokenState.REFRESH_FAILED:
            refresh_failed = shop.refresh_token_enc or ""
    if shop_id is None:
        shop_id = _install_by_token_exchange(runtime, claims.shop, token)
    elif refresh_failed is not None:
        _heal_token(runtime, shop_id, claims.shop, token, refresh_failed)
    person = _person(runtime, claims, token)
    with runtime.session() as session:
        staff = record_staff(
            session,
            shop_id,
            claims.user_id,
            email=person.email if person is not None and person.email_verified else None,
            name=person.name if person is not None else None,
            owner=person.account_owner if person is not None else None,
        )
        sign_in(staff)
        landing = landing_page(session, staff)  # the admin: settings; a rep: the workspace
    return framed(redirect(landing, code=303), claims.shop)


def _install_by_token_exchange(runtime: Runtime, shop: str, session_token: str) -> int:
    """Finish a Shopify-managed install (or a reinstall): the session token buys the shop's expiring
    offline token, the shop is registered, and the after-install steps run. Returns the shop's id.

    One install per shop at a time: Shopify keeps one refreshable offline token per shop, and each
    exchange retires the previous one's refresh token, so two first opens racing would leave one
    request holding a dead pair. The second waits for the lock, then finds the shop installed.
    """
    settings = runtime.settings
    lock = runtime.redis.lock(f"shopify-install:{shop}", timeout=INSTALL_LOCK_TTL, blocking_timeout=INSTALL_LOCK_WAIT)
    try:
        acquired = lock.acquire()
    except RedisError as exc:
        log.error("Shopify install for %s: Redis unavailable (%s)", shop, type(exc).__name__)
        abort(503, description="the app cannot finish installing right now: open it again in a minute")
    if not acquired:
        abort(503, description="the app is still being installed: open it again in a moment")
    try:
        with runtime.session() as session:
            found = find_shop(session, Platform.SHOPIFY, shop)
            if found is not None and found.state == ShopState.ACTIVE:
                return found.id  # installed by a request that held the lock before us
        try:
            grant = exchange_session_token(
                settings.shopify_admin_url,
                shop,
                session_token,
                client_id=settings.shopify_api_key,
                client_secret=settings.shopify_api_secret,
            )
        except TokenRefused as exc:
            log.warning("Shopify install for %s by token exchange: %s", shop, exc)
            abort(403, description="Shopify did not confirm the app is installed on this shop: open it from your admin")
        except TransientPlatformError as exc:
            log.warning("Shopify install for %s by token exchange: %s", shop, exc)
            abort(503, description="Shopify did not answer: open the app again in a minute")
        with runtime.session() as session:
            registered = register_shop(
                session, runtime.cipher, Platform.SHOPIFY, shop, grant.access_token, grant=_grant(grant)
            )
    finally:
        try:
            lock.release()
        except (LockError, RedisError):  # expired meanwhile, or Redis went away: nothing of ours to release
            log.warning("Shopify install for %s: install lock not released", shop)
    log.info("Shopify shop %s installed by token exchange (shop %s, scopes %s)", shop, registered.id, grant.scopes)
    after_install(runtime, registered.id)
    return registered.id


def _grant(grant: GrantedToken) -> TokenGrant:
    return TokenGrant(
        refresh_token=grant.refresh_token,
        access_expires_at=grant.access_expires_at,
        refresh_expires_at=grant.refresh_expires_at,
        scopes=grant.scopes,
    )


def _person(runtime: Runtime, claims: SessionToken, session_token: str) -> AssociatedUser | None:
    """Who opened the app, from an online token's ``associated_user``; None when Shopify cannot say."""
    settings = runtime.settings
    try:
        person = online_user(
            settings.shopify_admin_url,
            claims.shop,
            session_token,
            client_id=settings.shopify_api_key,
            client_secret=settings.shopify_api_secret,
        )
    except (TokenRefused, TransientPlatformError) as exc:
        log.warning("Shopify %s: who opened the app is unknown (%s)", claims.shop, type(exc).__name__)
        return None
    if person.id != claims.user_id:
        log.warning("Shopify %s: the online token names another user than the session token; ignored", claims.shop)
        return None
    return person


def _heal_token(runtime: Runtime, shop_id: int, shop: str, session_token: str, refused: str) -> None:
    """A shop whose refresh Shopify refused gets a new token pair by token exchange, now that a person
    from the shop has proved it is still installed. A failure leaves the mark for ops; sign-in goes on."""
    settings = runtime.settings
    try:
        grant = exchange_session_token(
            settings.shopify_admin_url,
            shop,
            session_token,
            client_id=settings.shopify_api_key,
            client_secret=settings.shopify_api_secret,
        )
    except (TokenRefused, TransientPlatformError) as exc:
        log.warning("Shopify shop %s: token exchange failed (%s)", shop_id, type(exc).__name__)
        return
    # Only if the refused pair is still the stored one: a reinstall meanwhile wins.
    replaces = refused or None
    if store_grant(runtime, shop_id, grant, replaces=replaces):
        log.info("Shopify shop %s: token renewed by token exchange", shop_id)
