"""The customer's pages: the preference centre (``/p/TOKEN``) and one-click unsubscribe (``/u/TOKEN``).

No login: the signed link is the key (``messaging.links``). ``GET`` never changes anything (mail scanners
open links). ``POST /p/TOKEN`` saves with this session's CSRF token and shows what changed. ``POST /u/TOKEN``
is RFC 8058's one-click: a mail provider posts ``List-Unsubscribe=One-Click`` (form-encoded or multipart)
with no cookie, so it needs none and no CSRF token, answers 200 without a redirect, and a repeat changes
nothing. A link that does not open gets a short page, never an error page: an expired one (still signed by
us, so we know whose it is) offers one button to email a fresh link (``messaging.fresh_link``; limited per
link and per client); a revoked one says to use the latest email (revoking is deliberate: nothing is sent);
a broken one cannot say whose it is, so it asks for the latest email or the shop (looking an address up
across shops would tell who is a customer). Every change is a consent-ledger entry; an unsubscribe is
pushed to the platform by a job. Every page is in the shop's name and colours (``messaging.brand``), set
in a ``<style>`` element allowed by a per-response CSP nonce (the policy allows no other inline style).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any

import redis
import sqlalchemy as sa
from flask import Blueprint, Flask, Response, abort, current_app, g, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import generate_csrf, validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms.validators import ValidationError

from integration import runtime_of
from integration.core.db import utcnow
from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.messaging.brand import Brand, brand_for, make_brand
from integration.messaging.fresh_link import offer_for, queue_fresh_link
from integration.messaging.ledger import Change, record
from integration.messaging.links import PREFERENCES, UNSUBSCRIBE, LinkProblem, LinkTarget, customer_link, read_token
from integration.messaging.models import ConsentPush
from integration.messaging.preferences import FREQUENCIES, PAUSES, WORDING, Centre, load, save
from integration.messaging.pushback import relay_pushes
from integration.shops.models import Shop, ShopState
from integration.web.security import apply_page_headers

log = logging.getLogger(__name__)

bp = Blueprint("preferences", __name__)

ONE_CLICK = Change("customer", "one_click", wording=WORDING)
PAGE = Change("customer", "page", wording=WORDING)
FRESH_LINK_ENDPOINT = "preferences.fresh_link"
# Fresh links asked for: per link (whoever asks) and per client address (whichever links), each window.
PER_LINK = "5 per hour"
PER_CLIENT = "30 per hour"
TOO_MANY = (
    "Too many fresh links were asked for. Wait an hour and ask again, or use the link in the latest email "
    "from the shop."
)


def _style_nonce() -> str:
    """This response's CSP nonce for the page's one ``<style>`` element (the brand's colours)."""
    if "style_nonce" not in g:
        g.style_nonce = secrets.token_urlsafe(16)
    nonce: str = g.style_nonce
    return nonce


@bp.context_processor
def _page_context() -> dict[str, Any]:
    return {"style_nonce": _style_nonce, "default_brand": make_brand(None)}


@bp.after_request
def _headers(response: Response) -> Response:
    apply_page_headers(response, None, style_nonce=g.get("style_nonce"))
    # The token is in the URL: never sent on to another site.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.errorhandler(HTTPException)
def _error(exc: HTTPException) -> Any:
    if exc.code == 429:  # Flask-Limiter's own words are its limit ("5 per 1 hour"), not a sentence
        return render_template("messaging/problem.html", title="Please wait a while", message=TOO_MANY), 429
    return render_template("messaging/problem.html", title=exc.name, message=exc.description), exc.code or 500


@bp.errorhandler(redis.RedisError)
def _no_redis(exc: redis.RedisError) -> Any:
    # The fresh-link limiter counts in Redis; without it the button cannot be limited, so it waits.
    log.error("customer pages: Redis unavailable (%s)", type(exc).__name__)
    message = "We cannot send links just now. Please try again in a few minutes."
    return render_template("messaging/problem.html", title="Please try again shortly", message=message), 503


def _runtime() -> Runtime:
    return runtime_of(current_app)


def _problem(problem: LinkProblem, token: str, purpose: str) -> Any:
    """The page for a link that does not open: 400 for a broken one, 410 for an expired or revoked one."""
    offer = None
    if problem.target is not None:
        with _runtime().session() as session:
            offer = offer_for(session, problem.target)
    kind = problem.kind if offer is not None else "invalid"  # a deleted customer's link: nobody to offer to
    return (
        render_template(
            "messaging/link_problem.html",
            kind=kind,
            offer=offer,
            shop_name=offer.shop_name if offer is not None else None,
            brand=offer.brand if offer is not None else None,
            token=token,
            purpose=purpose,
            csrf_token=generate_csrf,
        ),
        400 if kind == "invalid" else 410,
    )


def _after_commit(runtime: Runtime) -> None:
    """Push unsubscribes to the platform now (the outbox relay would within 30 s anyway)."""
    try:
        relay_pushes(runtime)
    except redis.RedisError as exc:
        log.warning("preference centre: consent push waits for the relay (%s)", type(exc).__name__)


def _page(centre: Centre, brand: Brand, token: str, changes: list[str] | None = None, status: int = 200) -> Any:
    return (
        render_template(
            "messaging/preferences.html",
            centre=centre,
            brand=brand,
            token=token,
            changes=changes,
            frequencies=FREQUENCIES,
            pauses=PAUSES,
            csrf_token=generate_csrf,
        ),
        status,
    )


@bp.get("/p/<token>")
def preference_centre(token: str) -> Any:
    runtime = _runtime()
    with runtime.session() as session:
        try:
            target = read_token(session, runtime.settings, PREFERENCES, token)
        except LinkProblem as problem:
            return _problem(problem, token, PREFERENCES)
        centre = load(session, target, utcnow())
        brand = brand_for(session, target.shop_id)
    if centre is None:
        return _problem(LinkProblem("invalid"), token, PREFERENCES)
    return _page(centre, brand, token)


@bp.post("/p/<token>")
def save_preferences(token: str) -> Any:
    runtime = _runtime()
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        abort(400, description="This form has expired. Open the link from your email again and make your choice.")
    now = utcnow()
    with runtime.session() as session:
        try:
            target = read_token(session, runtime.settings, PREFERENCES, token)
        except LinkProblem as problem:
            return _problem(problem, token, PREFERENCES)
        centre = load(session, target, now)
        if centre is None:
            return _problem(LinkProblem("invalid"), token, PREFERENCES)
        changes = save(session, centre, request.form.to_dict(flat=False), PAGE, now)
    _after_commit(runtime)
    with runtime.session() as session:
        saved = load(session, target, now)
        brand = brand_for(session, target.shop_id)
    assert saved is not None
    return _page(saved, brand, token, changes)


def _shop(runtime: Runtime, target: LinkTarget) -> dict[str, Any]:
    """The shop's name and colours for a page (the template's ``shop_name`` and ``brand``)."""
    with runtime.session() as session:
        shop = session.scalar(sa.select(Shop).where(Shop.id == target.shop_id, Shop.state == ShopState.ACTIVE))
        return {
            "shop_name": (shop.name or shop.identifier) if shop is not None else None,
            "brand": brand_for(session, shop.id if shop is not None else None),
        }


@bp.get("/u/<token>")
def unsubscribe_confirm(token: str) -> Any:
    runtime = _runtime()
    with runtime.session() as session:
        try:
            target = read_token(session, runtime.settings, UNSUBSCRIBE, token)
        except LinkProblem as problem:
            return _problem(problem, token, UNSUBSCRIBE)
        preferences = customer_link(session, runtime.settings, PREFERENCES, target.shop_id, target.customer_id)
    return render_template("messaging/unsubscribe.html", token=token, preferences=preferences, **_shop(runtime, target))


@bp.post("/u/<token>")
def unsubscribe(token: str) -> Any:
    """RFC 8058 one-click: no cookie, no CSRF token, 200 (never a redirect), idempotent."""
    if request.form.get("List-Unsubscribe") != "One-Click":
        abort(400, description="Use the button on the unsubscribe page to unsubscribe.")
    runtime = _runtime()
    with runtime.session() as session:
        try:
            target = read_token(session, runtime.settings, UNSUBSCRIBE, token)
        except LinkProblem as problem:
            return _problem(problem, token, UNSUBSCRIBE)
        known = session.scalar(
            sa.select(Customer.id).where(Customer.id == target.customer_id, Customer.shop_id == target.shop_id)
        )
        if known is not None:
            record(session, target.shop_id, target.customer_id, "email", "unsubscribed", ONE_CLICK)
        preferences = customer_link(session, runtime.settings, PREFERENCES, target.shop_id, target.customer_id)
    _after_commit(runtime)
    return render_template("messaging/unsubscribed.html", preferences=preferences, **_shop(runtime, target))


@bp.post("/p/<token>/fresh-link")
def fresh_link(token: str) -> Any:
    """A fresh link to the address on file, for the customer of an expired link (limited: ``init_limits``).

    The same answer whatever happened (sent, not sent, nothing to send): the page never tells whether an
    email went, nor where."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        abort(400, description="This form has expired. Open the link from your email again.")
    runtime = _runtime()
    purpose = request.form.get("purpose", PREFERENCES)
    target: LinkTarget | None = None
    kind = None
    with runtime.session() as session:
        try:
            target = read_token(
                session, runtime.settings, purpose if purpose in (PREFERENCES, UNSUBSCRIBE) else PREFERENCES, token
            )
        except LinkProblem as problem:
            target, kind = problem.target, problem.kind
    # Only an expired link brings a new one: a working link needs none (the page is the same, in its shop's
    # colours), a revoked one was turned off on purpose, a broken one names nobody.
    if kind == "expired" and target is not None:
        queue_fresh_link(runtime, target, utcnow())
    shop = _shop(runtime, target) if target is not None else {"shop_name": None, "brand": None}
    return render_template("messaging/fresh_link_sent.html", **shop)


def _link_key() -> str:
    # The token is a bearer secret: the limiter's Redis keys hold its hash, never the token.
    token = (request.view_args or {}).get("token", "")
    return "link:" + hashlib.sha256(str(token).encode()).hexdigest()


def init_limits(app: Flask, limiter: Limiter) -> None:
    """Limit the fresh-link button with the app's Flask-Limiter: per link and per client address."""
    view: Any = app.view_functions[FRESH_LINK_ENDPOINT]
    view = limiter.limit(PER_LINK, key_func=_link_key, scope="fresh-link-token")(view)
    view = limiter.limit(PER_CLIENT, key_func=get_remote_address, scope="fresh-link-client")(view)
    app.view_functions[FRESH_LINK_ENDPOINT] = view


def pending_pushes(runtime: Runtime) -> int:
    """How many unsubscribes wait to be pushed to the platforms (for ops)."""
    with runtime.session() as session:
        return int(
            session.scalar(sa.select(sa.func.count()).select_from(ConsentPush).where(ConsentPush.state == "queued"))
            or 0
        )
