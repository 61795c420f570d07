"""BigCommerce single-click app: install (``/auth``) and the signed ``load``, ``uninstall`` and
``remove-user`` callbacks.

Research: shared/platforms/bigcommerce.md §2. ``/auth`` exchanges the code at the login service before it
answers, stores the token encrypted (``register_shop``: a reinstall brings the same shop, with its data,
back), makes the store's hooks (``ensure_hooks``, through the subscription check, which records the
outcome on the shop for ops), starts its first reconciliation (the backfill, and the orders placed in
the minute before new hooks work) and signs the installing person in. The
callbacks carry ``signed_payload_jwt``: HS256 with the app's client secret, ``aud`` the client id, ``iss``
``bc``, ``sub`` ``stores/{hash}``. The legacy ``signed_payload`` is not accepted.

Every refusal is a short JSON error (4xx, or 502/503 when BigCommerce or our storage is the problem).
Codes, tokens and JWTs travel in these query strings: none is ever logged or echoed back, and the
responses tell the browser not to pass the URL on (``Referrer-Policy``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import jwt
import redis
import requests
import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, g, jsonify, redirect, request
from flask.typing import ResponseReturnValue
from jwt.warnings import InsecureKeyLengthWarning
from sqlalchemy.orm import Session

from integration import intake_of, runtime_of
from integration.core.config import Settings
from integration.core.runtime import Runtime
from integration.events.intake import Delivery, StorageUnavailable
from integration.platforms.bigcommerce.topics import APP_UNINSTALLED, store_hash_from_producer
from integration.reps.landing import landing_page
from integration.shops.lifecycle import after_install
from integration.shops.models import Platform, Shop, ShopState, StaffUser
from integration.shops.registry import ShopError, TokenGrant, find_shop, register_shop
from integration.shops.staff import ownership_moved, record_staff, sign_in

log = logging.getLogger(__name__)

bp = Blueprint("bigcommerce", __name__, url_prefix="/bigcommerce")

# Clock skew allowed on exp/nbf/iat (the documented example's nbf is 5 s before its iat).
JWT_LEEWAY = 60
JWT_REQUIRED = ["exp", "iat", "aud", "iss", "sub"]
TOKEN_TIMEOUT = (5.0, 20.0)
MAX_PARAM = 4096  # longer query values are refused before any work (JWTs are well under 2 KB)
# Each signed callback acts once: a copy replayed (a load from a log, history or a shoulder; an uninstall
# or remove-user notice, valid for 24 h, after a reinstall) is refused. One key space for all three, so
# a token spent on one callback is spent for the others too.
USED_JTI_KEY = "bigcommerce:jti:{jti}"
# What the app needs (§2.5); a granted read-write scope covers its read-only variant.
REQUIRED_SCOPES = (
    "store_v2_orders_read_only",
    "store_v2_customers",
    "store_v2_information_read_only",
    "store_v2_products_read_only",  # product types (the catalogue job)
)


def control_panel_origin(store_hash: str) -> str:
    """The store's control panel, the only place that may frame our pages for it."""
    return f"https://store-{store_hash}.mybigcommerce.com"


def _fail(status: int, reason: str) -> NoReturn:
    # The reason names what was wrong, never a value from the request.
    log.warning("BigCommerce %s refused (%s): %s", request.path, status, reason)
    abort(status, reason)


def _runtime() -> Runtime:
    return runtime_of(current_app)


def _app_credentials(settings: Settings) -> tuple[str, str]:
    if not (settings.bigcommerce_client_id and settings.bigcommerce_client_secret):
        _fail(503, "BIGCOMMERCE_CLIENT_ID and BIGCOMMERCE_CLIENT_SECRET must be configured")
    return settings.bigcommerce_client_id, settings.bigcommerce_client_secret


def _param(name: str) -> str:
    value = request.args.get(name, "")
    if not value:
        _fail(400, f"{name} is missing")
    if len(value) > MAX_PARAM:
        _fail(400, f"{name} is longer than {MAX_PARAM} characters")
    return value


@bp.after_request
def page_headers(response: Response) -> Response:
    # Framed only by the store's own control panel (none when the request named no store we could read).
    store_hash = g.get("bc_store_hash")
    ancestors = control_panel_origin(store_hash) if store_hash else "'none'"
    response.headers["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# ------------------------------------------------------------------------------------------- install


@dataclass(frozen=True)
class Person:
    id: str
    email: str | None
    name: str | None


def _person(value: object) -> Person | None:
    if not isinstance(value, Mapping):
        return None
    raw_id = value.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, int | str) or not str(raw_id).strip():
        return None
    email = value.get("email")
    name = value.get("username")
    return Person(
        str(raw_id).strip()[:64],
        email[:320] if isinstance(email, str) and email else None,
        name[:255] if isinstance(name, str) and name else None,
    )


def _record_person(db: Session, shop_id: int, user: Person, owner: Person | None) -> StaffUser:
    """Record who signed in. Every install and load names the store's owner: the owner is the admin,
    and when it names someone else than before, the previous owner stops being the admin (an admin the
    merchant chose who is not the owner stays one)."""
    staff = record_staff(
        db, shop_id, user.id, email=user.email, name=user.name, owner=None if owner is None else owner.id == user.id
    )
    if owner is not None:
        moved = ownership_moved(db, shop_id, owner.id)
        if moved:
            log.info("BigCommerce shop %s: the store's owner changed; the previous owner is no longer admin", shop_id)
    return staff


def _exchange_code(settings: Settings, code: str, scope: str, context: str) -> dict[str, Any]:
    """POST the code to the login service (before we answer, as BigCommerce asks); its JSON answer."""
    client_id, client_secret = _app_credentials(settings)
    url = f"{settings.bigcommerce_login_url}/oauth2/token"
    body = {
        "client_id": client_id,
        "client_secret": client_secret,
        "code": code,
        "context": context,
        "scope": scope,
        "grant_type": "authorization_code",
        "redirect_uri": f"{settings.public_url}/bigcommerce/auth",
    }
    try:
        response = requests.post(url, json=body, headers={"Accept": "application/json"}, timeout=TOKEN_TIMEOUT)
    except requests.RequestException as exc:
        log.warning("BigCommerce token exchange did not complete: %s", type(exc).__name__)
        abort(502, "BigCommerce's login service did not answer; open the app again to retry")
    if 400 <= response.status_code < 500:
        _fail(
            400,
            f"BigCommerce refused the authorization code ({response.status_code}): it may have expired or been"
            " used already; install the app again from the control panel",
        )
    if response.status_code >= 300:
        log.warning("BigCommerce token exchange answered %s", response.status_code)
        abort(502, f"BigCommerce's login service answered {response.status_code}; open the app again to retry")
    try:
        grant = response.json()
    except ValueError:
        grant = None
    if not isinstance(grant, dict):
        abort(502, "BigCommerce's login service answered something other than a JSON object")
    return grant


def _missing_scopes(granted: str) -> list[str]:
    have = set(granted.split())
    return [s for s in REQUIRED_SCOPES if s not in have and s.removesuffix("_read_only") not in have]


@bp.get("/auth")
def auth() -> ResponseReturnValue:
    runtime = _runtime()
    settings = runtime.settings
    _app_credentials(settings)
    context = _param("context")
    store_hash = store_hash_from_producer(context)
    if store_hash is None:
        _fail(400, "context must be 'stores/{store_hash}'")
    g.bc_store_hash = store_hash
    code = _param("code")
    scope = _param("scope")

    grant = _exchange_code(settings, code, scope, context)
    access_token = grant.get("access_token")
    if not isinstance(access_token, str) or not access_token.strip():
        abort(502, "BigCommerce's token answer has no access_token")
    if store_hash_from_producer(grant.get("context")) != store_hash:
        abort(502, "BigCommerce's token answer is for another store")
    user = _person(grant.get("user"))
    owner = _person(grant.get("owner"))
    if user is None:
        abort(502, "BigCommerce's token answer does not name the installing user")
    granted = grant.get("scope") if isinstance(grant.get("scope"), str) else scope
    missing = _missing_scopes(str(granted))
    if missing:
        # The app profile in the Developer Portal asks for less than the app needs: ops must fix it.
        log.error("BigCommerce store %s granted no %s; some features will fail", store_hash, ", ".join(missing))

    try:
        with runtime.session() as db:
            registered = register_shop(
                db,
                runtime.cipher,
                Platform.BIGCOMMERCE,
                store_hash,
                access_token,
                grant=TokenGrant(scopes=str(granted)[:1024]),
            )
            staff = _record_person(db, registered.id, user, owner)
            sign_in(staff)
            landing = landing_page(db, staff)
    except ShopError as exc:
        _fail(400, str(exc))
    log.info("BigCommerce store %s installed (shop %s)", store_hash, registered.id)

    after_install(runtime, registered.id)
    return redirect(landing)


# ----------------------------------------------------------------------------------------- callbacks


def _verified_claims(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The store hash and claims of ``signed_payload_jwt``, or a 4xx naming what is wrong with it."""
    client_id, client_secret = _app_credentials(settings)
    if "signed_payload_jwt" not in request.args and "signed_payload" in request.args:
        _fail(400, "the legacy signed_payload is not accepted; enable signed_payload_jwt callbacks")
    token = _param("signed_payload_jwt")
    try:
        with warnings.catch_warnings():
            # The client secret's length is BigCommerce's choice, not ours (sync workers: one thread).
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            claims: dict[str, Any] = jwt.decode(
                token,
                client_secret,
                algorithms=["HS256"],
                audience=client_id,
                issuer="bc",
                leeway=JWT_LEEWAY,
                options={"require": JWT_REQUIRED},
            )
    except jwt.ExpiredSignatureError:
        _fail(401, "signed_payload_jwt has expired")
    except jwt.ImmatureSignatureError:
        _fail(401, "signed_payload_jwt is not valid yet")
    except jwt.InvalidAudienceError:
        _fail(401, "signed_payload_jwt is for another app (aud)")
    except jwt.InvalidIssuerError:
        _fail(401, "signed_payload_jwt was not issued by BigCommerce (iss)")
    except jwt.MissingRequiredClaimError as exc:
        _fail(401, f"signed_payload_jwt has no {exc.claim} claim")
    except jwt.InvalidSignatureError:
        _fail(401, "signed_payload_jwt signature does not verify")
    except jwt.InvalidTokenError:
        _fail(401, "signed_payload_jwt is not a valid HS256 token")
    store_hash = store_hash_from_producer(claims.get("sub"))
    if store_hash is None:
        _fail(401, "signed_payload_jwt sub must be 'stores/{store_hash}'")
    g.bc_store_hash = store_hash
    return store_hash, claims


def _installed_shop(db: Session, store_hash: str) -> Shop:
    shop = find_shop(db, Platform.BIGCOMMERCE, store_hash)
    if shop is None:
        log.warning("BigCommerce callback for a store we do not know: %s", store_hash)
        _fail(404, "this store has not installed the app; install it from the BigCommerce control panel")
    return shop


def _spend_jti(runtime: Runtime, claims: Mapping[str, Any], *, used: str, unavailable: str) -> str:
    """Mark the token's ``jti`` used until the token expires; 401 ``used`` if it was, 503 ``unavailable``
    if Redis cannot say. Returns the jti."""
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 128:
        _fail(401, "signed_payload_jwt has no usable jti claim")
    exp = claims.get("exp")
    ttl = max(int(exp - time.time()) if isinstance(exp, int | float) else 0, 0) + JWT_LEEWAY + 1
    try:
        first = runtime.redis.set(USED_JTI_KEY.format(jti=jti), "1", nx=True, ex=ttl)
    except redis.RedisError as exc:
        log.error("BigCommerce %s: Redis unavailable (%s)", request.path, type(exc).__name__)
        abort(503, unavailable)
    if not first:
        _fail(401, used)
    return jti


def _issued_before_install(shop: Shop, claims: Mapping[str, Any]) -> bool:
    """A notice BigCommerce signed before the store's last install is about the install before it.

    ``iat`` is in whole seconds on BigCommerce's clock, so a notice counts as older only by more than
    the clock skew allowed on every claim; a copy replayed later than that is caught here even if
    Redis has lost its spent ``jti``."""
    iat = claims.get("iat")  # required, and a number: PyJWT checked both
    installed_at = shop.installed_at
    return isinstance(iat, int | float) and installed_at is not None and iat + JWT_LEEWAY < installed_at.timestamp()


@bp.get("/load")
def load() -> ResponseReturnValue:
    runtime = _runtime()
    store_hash, claims = _verified_claims(runtime.settings)
    user = _person(claims.get("user"))
    if user is None:
        _fail(401, "signed_payload_jwt names no user")
    owner = _person(claims.get("owner"))
    with runtime.session() as db:
        shop = _installed_shop(db, store_hash)
        if shop.state != ShopState.ACTIVE:
            _fail(404, "the app was uninstalled from this store; install it again from the control panel")
        _spend_jti(
            runtime,
            claims,
            used="this sign-in link was used already; open the app again from the BigCommerce control panel",
            unavailable="sign-in is unavailable for a moment; open the app again",
        )
        staff = _record_person(db, shop.id, user, owner)
        sign_in(staff)
        landing = landing_page(db, staff)  # the admin: settings; a rep: the workspace
    return redirect(landing)


STALE_NOTICE = "this notice was issued before the store's last install; ignored"


@bp.get("/uninstall")
def uninstall_store() -> ResponseReturnValue:
    """Stored as a ``store/app/uninstalled`` event; the worker destroys the token once BigCommerce
    confirms the app is gone (``integration.shops.lifecycle``), so a copied or early notice cannot."""
    runtime = _runtime()
    store_hash, claims = _verified_claims(runtime.settings)
    with runtime.session() as db:
        shop = _installed_shop(db, store_hash)
    jti = _spend_jti(
        runtime,
        claims,
        used="this uninstall notice was received already",
        unavailable="cannot record the uninstall notice now; send it again",
    )
    if shop.state != ShopState.ACTIVE:
        return jsonify(store_hash=store_hash, status="already_uninstalled")
    if _issued_before_install(shop, claims):
        _fail(409, STALE_NOTICE)
    notice = Delivery(
        platform=Platform.BIGCOMMERCE,
        shop=store_hash,
        topic=APP_UNINSTALLED,
        webhook_id=f"uninstall-callback:{jti}",
        dedupe_key=f"uninstall:{jti}",
        namespace="callback",
        body=json.dumps({"scope": APP_UNINSTALLED, "producer": f"stores/{store_hash}", "source": "callback"}).encode(),
        triggered_at=dt.datetime.fromtimestamp(claims["iat"], dt.UTC),
    )
    try:
        stored = intake_of(current_app).store(notice)
    except StorageUnavailable:
        abort(503, "cannot record the uninstall notice now; send it again")
    log.info("BigCommerce store %s: uninstall notice stored as event %s, to be confirmed", store_hash, stored.event_id)
    return jsonify(store_hash=store_hash, status="confirming", event_id=stored.event_id), 202


@bp.get("/remove-user")
def remove_user() -> Response:
    runtime = _runtime()
    store_hash, claims = _verified_claims(runtime.settings)
    user = _person(claims.get("user"))
    if user is None:
        _fail(401, "signed_payload_jwt names no user")
    with runtime.session() as db:
        shop = _installed_shop(db, store_hash)
        _spend_jti(
            runtime,
            claims,
            used="this remove-user notice was received already",
            unavailable="cannot record the remove-user notice now; send it again",
        )
        if _issued_before_install(shop, claims):
            _fail(409, STALE_NOTICE)
        result = db.execute(
            sa.update(StaffUser)
            .where(StaffUser.shop_id == shop.id, StaffUser.platform_user_id == user.id, StaffUser.active)
            .values(active=False)
        )
    removed = bool(result.rowcount)  # type: ignore[attr-defined]
    log.info("BigCommerce store %s: user removed (%s)", store_hash, "was active" if removed else "nothing to do")
    return jsonify(store_hash=store_hash, removed=removed)
