"""Signing reps in to the workspace with an emailed link: first-party, so it works where browsers block
third-party cookies (the platform admins frame the app; the workspace is opened on its own).

* ``GET /workspace/sign-in`` asks for an address; ``POST`` answers the same page whatever the address,
  so the form never tells who is on a roster. For each roster entry with that address (a person may be
  a rep of several shops) a link goes into the outbox (template ``signin_link``; sending comes with the
  email capability). Asking is limited per address and per client in Redis, and the limit answers the
  same for every address too.
* The link carries an itsdangerous token (its own salt, 15 minutes) naming the rep, their address and a
  random id. Opening it shows one button (mail scanners that fetch links do not spend it); pressing it
  spends the id in Redis (``SET NX`` with a TTL past the token's life), so a link signs in once.
* A rep whose address changed, who left, or whose shop was uninstalled is refused like a forged link.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

import redis
import sqlalchemy as sa
from flask import abort, current_app, redirect, render_template, request, session, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from integration import runtime_of
from integration.messaging.outbox import Draft, enqueue_sends, queue_email
from integration.reps.models import Rep, RepState
from integration.reps.pages import SESSION_REP, current_rep, page_blueprint
from integration.reps.roster import EMAIL_RE
from integration.shops.models import Shop, ShopState
from integration.shops.staff import SESSION_SHOP, SESSION_SIGNED_IN

log = logging.getLogger(__name__)

bp = page_blueprint("reps_signin", __name__, url_prefix="/workspace")

SALT = "personal-commerce.workspace.sign-in-link"
MAX_AGE = 15 * 60
SPENT_KEY = "reps:signin:spent:{jti}"
SPENT_TTL = MAX_AGE + 60  # outlives the token: an id is never forgotten while its token still verifies
RATE_KEY = "reps:signin:rate:{kind}:{digest}"
RATE_WINDOW = 15 * 60
PER_ADDRESS = 5  # links asked for one address per window
PER_CLIENT = 30  # links asked from one client address per window, whatever the addresses
TEMPLATE = "signin_link"


class LinkError(Exception):
    """A link that cannot sign anyone in, in words for the page."""


@dataclass(frozen=True)
class LinkClaims:
    rep_id: int
    email: str
    jti: str


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def make_token(rep: Rep) -> tuple[str, str]:
    """A sign-in token for ``rep`` and its id."""
    jti = secrets.token_urlsafe(16)
    return str(_serializer().dumps({"r": rep.id, "e": rep.email, "j": jti})), jti


def read_token(token: str) -> LinkClaims:
    try:
        data: Any = _serializer().loads(token, max_age=MAX_AGE)
    except SignatureExpired:
        raise LinkError("This sign-in link has expired (links work for 15 minutes).") from None
    except BadSignature:
        raise LinkError("This sign-in link is not valid.") from None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("r"), int)
        and isinstance(data.get("e"), str)
        and isinstance(data.get("j"), str)
    ):
        raise LinkError("This sign-in link is not valid.")
    return LinkClaims(data["r"], data["e"], data["j"])


def _rep_for(db: Session, claims: LinkClaims) -> Rep:
    rep = db.scalar(
        sa.select(Rep)
        .join(Shop, Shop.id == Rep.shop_id)
        .where(
            Rep.id == claims.rep_id,
            Rep.email == claims.email,
            Rep.state != RepState.LEFT,
            Shop.state == ShopState.ACTIVE,
        )
    )
    if rep is None:
        raise LinkError("This sign-in link is not valid.")
    return rep


def _redis() -> redis.Redis:
    return runtime_of(current_app).redis


def _over_limit(kind: str, value: str, limit: int) -> bool:
    key = RATE_KEY.format(kind=kind, digest=hashlib.sha256(value.encode()).hexdigest()[:32])
    pipe = _redis().pipeline()
    pipe.set(key, 0, ex=RATE_WINDOW, nx=True)  # the window starts with the first request (INCR keeps the TTL)
    pipe.incr(key)
    _, count = pipe.execute()
    return int(count) > limit


def link_url(token: str) -> str:
    # From the configured public address, never from the request's Host header (which a sender of the
    # form controls: a link pointing elsewhere would hand them the token).
    return runtime_of(current_app).settings.public_url.rstrip("/") + url_for("reps_signin.confirm", token=token)


def queue_links(db: Session, email: str) -> list[int]:
    """One link per roster entry with this address (in an active shop) into the outbox; their outbox ids."""
    found = db.execute(
        sa.select(Rep, Shop)
        .join(Shop, Shop.id == Rep.shop_id)
        .where(Rep.email == email, Rep.state != RepState.LEFT, Shop.state == ShopState.ACTIVE)
    ).all()
    queued: list[int] = []
    for rep, shop in found:
        token, jti = make_token(rep)
        shop_name = shop.name or shop.identifier
        draft = Draft(
            shop_id=shop.id,
            dedupe_key=f"signin:{jti}",
            template=TEMPLATE,
            recipient=rep.email,
            subject=f"Your sign-in link for {shop_name}",
            text=(
                f"Hello {rep.name},\n\n"
                f"Open this link to sign in to your customers at {shop_name}:\n\n{link_url(token)}\n\n"
                "It works once, within 15 minutes. If you did not ask for it, you can ignore this email.\n"
            ),
        )
        outbox_id = queue_email(db, draft, runtime_of(current_app).settings)
        if outbox_id is not None:
            queued.append(outbox_id)
    return queued


@bp.get("/sign-in")
def ask() -> Any:
    if current_rep() is not None:
        return redirect(url_for("reps_workspace.today"), code=303)
    return render_template("reps/signin.html", email="", error=None)


@bp.post("/sign-in")
def send() -> Any:
    email = (request.form.get("email") or "").strip().lower()
    if not EMAIL_RE.fullmatch(email) or len(email) > 320:
        return render_template(
            "reps/signin.html", email=email, error="Enter your email address, like you@example.com."
        ), 422
    try:
        limited = _over_limit("address", email, PER_ADDRESS) or _over_limit(
            "client", request.remote_addr or "-", PER_CLIENT
        )
    except redis.RedisError as exc:
        log.error("workspace sign-in: Redis unavailable (%s)", type(exc).__name__)
        abort(503, description="Signing in is unavailable for a moment; try again shortly.")
    if limited:
        abort(429, description="Too many sign-in links were asked for; wait 15 minutes and ask again.")
    runtime = runtime_of(current_app)
    with runtime.session() as db:
        queued = queue_links(db, email)
    try:
        enqueue_sends(runtime, queued)  # at once; the outbox relay would find them within 30 s anyway
    except redis.RedisError as exc:
        log.warning("workspace sign-in: links wait for the outbox relay (%s)", type(exc).__name__)
    return render_template("reps/signin_sent.html", email=email)


@bp.get("/sign-in/<token>")
def confirm(token: str) -> Any:
    try:
        claims = read_token(token)
        with runtime_of(current_app).session() as db:
            rep = _rep_for(db, claims)
            shop = db.get_one(Shop, rep.shop_id)
            who, where = rep.name, shop.name or shop.identifier
        try:
            spent = _redis().exists(SPENT_KEY.format(jti=claims.jti))
        except redis.RedisError as exc:
            log.error("workspace sign-in: Redis unavailable (%s)", type(exc).__name__)
            abort(503, description="Signing in is unavailable for a moment; open the link again shortly.")
        if spent:
            raise LinkError("This sign-in link was used already.")
    except LinkError as exc:
        return render_template("reps/signin_refused.html", reason=str(exc)), 400
    return render_template("reps/signin_confirm.html", token=token, who=who, where=where)


@bp.post("/sign-in/<token>")
def spend(token: str) -> Any:
    try:
        claims = read_token(token)
        with runtime_of(current_app).session() as db:
            rep = _rep_for(db, claims)
            rep_id, shop_id = rep.id, rep.shop_id
        try:
            first = _redis().set(SPENT_KEY.format(jti=claims.jti), "1", nx=True, ex=SPENT_TTL)
        except redis.RedisError as exc:
            log.error("workspace sign-in: Redis unavailable (%s)", type(exc).__name__)
            abort(503, description="Signing in is unavailable for a moment; open the link again shortly.")
        if not first:
            raise LinkError("This sign-in link was used already.")
    except LinkError as exc:
        return render_template("reps/signin_refused.html", reason=str(exc)), 400
    session.clear()  # a fresh session: nothing carried over from before the sign-in
    session[SESSION_REP] = rep_id
    session[SESSION_SHOP] = shop_id
    session[SESSION_SIGNED_IN] = int(time.time())
    session.permanent = True
    return redirect(url_for("reps_workspace.today"), code=303)


@bp.post("/sign-out")
def sign_out() -> Any:
    session.clear()
    return redirect(url_for("reps_signin.ask"), code=303)
