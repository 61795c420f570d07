"""The customer's pages: the preference centre (``/p/TOKEN``) and one-click unsubscribe (``/u/TOKEN``).

No login: the signed link is the key (``messaging.links``). ``GET`` never changes anything (mail scanners
open links). ``POST /p/TOKEN`` saves with this session's CSRF token and shows what changed. ``POST /u/TOKEN``
is RFC 8058's one-click: a mail provider posts ``List-Unsubscribe=One-Click`` (form-encoded or multipart)
with no cookie, so it needs none and no CSRF token, answers 200 without a redirect, and a repeat changes
nothing. A link that is bad, expired or revoked gets a short page offering a fresh link by email, never an
error page. Every change is a consent-ledger entry; an unsubscribe is pushed to the platform by a job.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import redis
import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_wtf.csrf import generate_csrf, validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms.validators import ValidationError

from integration import runtime_of
from integration.core.db import utcnow
from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.messaging.ledger import Change, record
from integration.messaging.links import PREFERENCES, UNSUBSCRIBE, LinkProblem, LinkTarget, customer_link, read_token
from integration.messaging.models import ConsentPush
from integration.messaging.outbox import Draft, enqueue_sends, queue_email
from integration.messaging.preferences import FREQUENCIES, PAUSES, WORDING, Centre, load, save
from integration.messaging.pushback import relay_pushes
from integration.shops.models import Shop, ShopState
from integration.web.security import apply_page_headers

log = logging.getLogger(__name__)

bp = Blueprint("preferences", __name__)

ONE_CLICK = Change("customer", "one_click", wording=WORDING)
PAGE = Change("customer", "page", wording=WORDING)
FRESH_LINK_TEMPLATE = "preferences_link"


@bp.after_request
def _headers(response: Response) -> Response:
    apply_page_headers(response, None)
    # The token is in the URL: never sent on to another site.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.errorhandler(HTTPException)
def _error(exc: HTTPException) -> Any:
    return render_template("messaging/problem.html", title=exc.name, message=exc.description), exc.code or 500


def _runtime() -> Runtime:
    return runtime_of(current_app)


def _problem(problem: LinkProblem, token: str, purpose: str) -> Any:
    words = {
        "expired": "This link has expired.",
        "revoked": "This link no longer works: a newer one was sent.",
        "invalid": "This link is not valid. It may have been cut short by your email program.",
    }
    status = 400 if problem.kind == "invalid" else 410
    return (
        render_template(
            "messaging/link_problem.html",
            reason=words.get(problem.kind, words["invalid"]),
            known=problem.target is not None,
            token=token,
            purpose=purpose,
            csrf_token=generate_csrf,
        ),
        status,
    )


def _after_commit(runtime: Runtime) -> None:
    """Push unsubscribes to the platform now (the outbox relay would within 30 s anyway)."""
    try:
        relay_pushes(runtime)
    except redis.RedisError as exc:
        log.warning("preference centre: consent push waits for the relay (%s)", type(exc).__name__)


def _page(centre: Centre, token: str, changes: list[str] | None = None, status: int = 200) -> Any:
    return (
        render_template(
            "messaging/preferences.html",
            centre=centre,
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
    if centre is None:
        return _problem(LinkProblem("invalid"), token, PREFERENCES)
    return _page(centre, token)


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
    assert saved is not None
    return _page(saved, token, changes)


def _shop_name(runtime: Runtime, target: LinkTarget) -> str | None:
    with runtime.session() as session:
        shop = session.scalar(sa.select(Shop).where(Shop.id == target.shop_id, Shop.state == ShopState.ACTIVE))
        return (shop.name or shop.identifier) if shop is not None else None


@bp.get("/u/<token>")
def unsubscribe_confirm(token: str) -> Any:
    runtime = _runtime()
    with runtime.session() as session:
        try:
            target = read_token(session, runtime.settings, UNSUBSCRIBE, token)
        except LinkProblem as problem:
            return _problem(problem, token, UNSUBSCRIBE)
        preferences = customer_link(session, runtime.settings, PREFERENCES, target.shop_id, target.customer_id)
    return render_template(
        "messaging/unsubscribe.html", token=token, shop_name=_shop_name(runtime, target), preferences=preferences
    )


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
    return render_template(
        "messaging/unsubscribed.html", shop_name=_shop_name(runtime, target), preferences=preferences
    )


def _queue_fresh_link(runtime: Runtime, target: LinkTarget, now: dt.datetime) -> None:
    with runtime.session() as session:
        row = session.execute(
            sa.select(Customer.email, Customer.first_name, Shop.name, Shop.identifier)
            .join(Shop, Shop.id == Customer.shop_id)
            .where(Customer.id == target.customer_id, Shop.id == target.shop_id, Shop.state == ShopState.ACTIVE)
        ).one_or_none()
        if row is None or not row.email:
            return
        link = customer_link(session, runtime.settings, PREFERENCES, target.shop_id, target.customer_id)
        shop_name = row.name or row.identifier
        draft = Draft(
            shop_id=target.shop_id,
            # One a customer per hour, however often the button is pressed.
            dedupe_key=f"fresh-link-{target.customer_id}-{now:%Y%m%d%H}",
            template=FRESH_LINK_TEMPLATE,
            recipient=row.email,
            subject=f"Your preferences at {shop_name}",
            text=(
                f"Hello{' ' + row.first_name if row.first_name else ''},\n\n"
                f"Here is your link to choose what {shop_name} sends you:\n\n{link}\n\n"
                "You asked for it on our website. If you did not, you can ignore this email.\n"
            ),
            customer_id=target.customer_id,
        )
        outbox_id = queue_email(session, draft, runtime.settings, now=now)
    if outbox_id is not None:
        try:
            enqueue_sends(runtime, [outbox_id])
        except redis.RedisError as exc:
            log.warning("fresh preference link waits for the outbox relay (%s)", type(exc).__name__)


@bp.post("/p/<token>/fresh-link")
def fresh_link(token: str) -> Any:
    """A fresh link to the address on file, for the customer of an expired or revoked link."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        abort(400, description="This form has expired. Open the link from your email again.")
    runtime = _runtime()
    purpose = request.form.get("purpose", PREFERENCES)
    with runtime.session() as session:
        try:
            read_token(
                session, runtime.settings, purpose if purpose in (PREFERENCES, UNSUBSCRIBE) else PREFERENCES, token
            )
            target = None  # the link still works: nothing to renew
        except LinkProblem as problem:
            target = problem.target
    if target is not None:
        _queue_fresh_link(runtime, target, utcnow())
    # The same answer whoever asks: a link page never tells whether or where it sent anything.
    return render_template("messaging/fresh_link_sent.html")


def pending_pushes(runtime: Runtime) -> int:
    """How many unsubscribes wait to be pushed to the platforms (for ops)."""
    with runtime.session() as session:
        return int(
            session.scalar(sa.select(sa.func.count()).select_from(ConsentPush).where(ConsentPush.state == "queued"))
            or 0
        )
