"""Shopify install (authorization code grant) and the embedded app's sign-in.

* ``GET /shopify/install``: Shopify's signed link (``shop``, ``hmac``, ``timestamp``). After checking the
  HMAC, the timestamp (90 s) and the shop domain, the merchant is sent to the shop's authorize page with
  our scopes and a random ``state`` that is also held in a signed, five-minute, HttpOnly cookie.
* ``GET /shopify/callback``: the state must match the cookie (and is then spent: the cookie is cleared
  and the nonce recorded as used in Redis), the query must be signed and fresh, the shop the same. The
  code buys an expiring offline token (encrypted, with its refresh token), webhook subscriptions are put
  in place, and the merchant is sent into their admin, which opens the embedded app.
* ``GET /shopify/app``: the embedded app. Shopify opens it with an App Bridge session token (``id_token``
  query parameter, or ``Authorization: Bearer``); that token names the shop and the staff user, who is
  signed in and sent to ``/settings``.

Who is the merchant admin: the session token names the user but says nothing about ownership, and the
code grant's offline token names nobody. The first person to open the app after it is installed on a
shop with no admin is made its admin (installing an app takes the owner or staff the owner allowed to
manage apps, and the install lands them straight in the app); everyone else signs in as staff. An
admin can be handed over on the settings page.

No token, code or session token is ever logged or put into an error message.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, redirect, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from integration import runtime_of
from integration.core.config import Settings
from integration.core.runtime import Runtime
from integration.platforms.interfaces import TransientPlatformError
from integration.platforms.shopify.oauth import (
    OAuthError,
    TokenRefused,
    admin_base,
    authorize_url,
    decode_session_token,
    exchange_code,
    exchange_session_token,
    verify_signed_query,
)
from integration.platforms.shopify.topics import valid_shop_domain
from integration.shops.lifecycle import after_install
from integration.shops.models import Platform, ShopState, StaffRole, StaffUser, TokenState
from integration.shops.registry import TokenGrant, find_shop, register_shop
from integration.shops.staff import record_staff, sign_in
from integration.shops.tokens import store_grant

log = logging.getLogger(__name__)

bp = Blueprint("shopify", __name__, url_prefix="/shopify")

STATE_COOKIE = "shopify_oauth_state"
STATE_MAX_AGE = 300  # seconds the merchant has on Shopify's approval page
STATE_SALT = "shopify-oauth-state"
SHOPIFY_ADMIN = "https://admin.shopify.com"


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
            session,
            runtime.cipher,
            Platform.SHOPIFY,
            shop,
            grant.access_token,
            grant=TokenGrant(
                refresh_token=grant.refresh_token,
                access_expires_at=grant.access_expires_at,
                refresh_expires_at=grant.refresh_expires_at,
                scopes=grant.scopes,
            ),
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
    """The app inside Shopify admin: sign the person in from their session token, then the settings."""
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
        if shop is None or shop.state != ShopState.ACTIVE:
            shop_id = None
        else:
            shop_id = shop.id
            if shop.token_state == TokenState.REFRESH_FAILED:
                refresh_failed = shop.refresh_token_enc or ""
            has_admin = session.scalar(
                sa.select(sa.func.count())
                .select_from(StaffUser)
                .where(StaffUser.shop_id == shop.id, StaffUser.role == StaffRole.ADMIN, StaffUser.active)
            )
            staff = record_staff(session, shop.id, claims.user_id, email=None, name=None, owner=not has_admin)
            sign_in(staff)
    if shop_id is None:
        # Not installed (or uninstalled): a signed app-URL load can start the install right away.
        if request.args.get("hmac") and _verified_shop() == claims.shop:
            return framed(_begin_install(claims.shop), claims.shop)
        abort(403, description="the app is not installed on this shop: install it from Shopify")
    if refresh_failed is not None:
        _heal_token(runtime, shop_id, claims.shop, token, refresh_failed)
    return framed(redirect("/settings", code=303), claims.shop)


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
