"""Signing ops users in and out, and what every ``/ops`` page requires.

An ops user is nobody's staff: their session is a cookie of its own (``pc_ops``), apart from the cookie
the shops' staff and reps sign in with, so neither kind of sign-in can stand for the other. The cookie
holds a random id; Redis holds what it means (the account and the sign-in time) and expires it
``SESSION_LIFETIME`` after sign-in, never later, however busy: signing out deletes it at once, and a
deleted account ends its sessions with its next request. The cookie is ``SameSite=Strict`` (the console
is never framed nor linked to from other sites), so another site cannot make a browser act with it.

Sign-in is limited with Flask-Limiter on the app's Redis, per client address and per account, counting
failed attempts only; every form carries Flask-WTF's CSRF token.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import redis
from flask import Blueprint, Flask, Response, abort, current_app, g, redirect, render_template, request, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import generate_csrf, validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms.validators import ValidationError

from integration import runtime_of
from integration.core.sessions import SESSION_LIFETIME
from integration.ops.accounts import OpsAccount, account, authenticate, normalise_email
from integration.web.security import apply_page_headers

log = logging.getLogger(__name__)

COOKIE = "pc_ops"
SESSION_KEY = "ops:session:{digest}"
# Failed sign-ins allowed per window: per client address, and per account (whatever the address).
PER_ADDRESS = "20 per 15 minutes"
PER_ACCOUNT = "10 per 15 minutes"
LOGIN_ENDPOINT = "ops_auth.login_post"


@dataclass(frozen=True)
class OpsSession:
    user: OpsAccount
    signed_in: int


def _digest(token: str) -> str:
    # Redis holds a hash of the cookie's id: a copy of Redis does not hold working cookies.
    return hashlib.sha256(token.encode()).hexdigest()


def _redis() -> redis.Redis:
    return runtime_of(current_app).redis


def current_ops() -> OpsSession | None:
    """The ops user signed in on this request, if any (read once per request)."""
    if "ops_session" in g:
        return cast("OpsSession | None", g.ops_session)
    found = None
    token = request.cookies.get(COOKIE)
    if token and len(token) < 100:
        raw = _redis().get(SESSION_KEY.format(digest=_digest(token)))
        if raw:
            user_id, _, signed_in = (raw.decode() if isinstance(raw, bytes) else str(raw)).partition(":")
            if 0 <= time.time() - int(signed_in) < SESSION_LIFETIME:
                with runtime_of(current_app).session() as db:
                    user = account(db, int(user_id))
                if user is not None:
                    found = OpsSession(user, int(signed_in))
    g.ops_session = found
    return found


def start_session(response: Response, user: OpsAccount) -> None:
    token = secrets.token_urlsafe(32)
    now = int(time.time())
    _redis().set(SESSION_KEY.format(digest=_digest(token)), f"{user.id}:{now}", ex=SESSION_LIFETIME)
    response.set_cookie(
        COOKIE,
        token,
        max_age=SESSION_LIFETIME,
        httponly=True,
        secure=runtime_of(current_app).settings.serves_https,
        samesite="Strict",
        path="/",
    )


def end_session(response: Response) -> None:
    token = request.cookies.get(COOKIE)
    if token:
        _redis().delete(SESSION_KEY.format(digest=_digest(token)))
    response.delete_cookie(COOKIE, path="/")


def refuse_without_session() -> Response | None:
    """A GET goes to the sign-in page (and back here after); anything else is 401."""
    if current_ops() is not None:
        return None
    if request.method in ("GET", "HEAD"):
        return cast(Response, redirect(url_for("ops_auth.login", next=request.full_path.rstrip("?")), code=303))
    abort(401, description="Sign in to the ops console first.")


def check_csrf() -> None:
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as exc:
        abort(400, description=f"{exc} Reload the page and try again.")


def _headers(response: Response) -> Response:
    return apply_page_headers(response, None)  # never framed


def _error_page(exc: HTTPException) -> tuple[str, int]:
    return render_template("ops/error.html", error=exc, ops=current_ops()), exc.code or 500


def ops_blueprint(name: str, import_name: str, *, signed_in: bool = True) -> Blueprint:
    """A blueprint of ``/ops`` pages: signed-in ops user (unless ``signed_in=False``), CSRF, headers."""
    bp = Blueprint(name, import_name, url_prefix="/ops")
    if signed_in:
        bp.before_request(refuse_without_session)
    bp.before_request(check_csrf)
    bp.after_request(_headers)
    bp.context_processor(lambda: {"csrf_token": generate_csrf, "ops": current_ops()})
    for code in (400, 401, 403, 404, 405, 409, 422, 429, 503):
        bp.register_error_handler(code, _error_page)
    return bp


bp = ops_blueprint("ops_auth", __name__, signed_in=False)


def _safe_next(target: str | None) -> str:
    # Only a path of this console: never another site (an open redirect), nor a scheme-relative //host.
    if target and target.startswith("/ops") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("ops_pages.overview")


@bp.get("/login")
def login() -> Any:
    if current_ops() is not None:
        return redirect(_safe_next(request.args.get("next")), code=303)
    return render_template("ops/login.html", email="", error=None, next=request.args.get("next", ""))


@bp.post("/login")
def login_post() -> Any:
    email = normalise_email(request.form.get("email") or "")
    password = request.form.get("password") or ""
    with runtime_of(current_app).session() as db:
        user = authenticate(db, email, password)
    if user is None:
        log.warning("ops sign-in refused")  # never the address: it may be a customer's, typed by mistake
        page = render_template(
            "ops/login.html",
            email=email,
            error="That address and password do not match.",
            next=request.form.get("next"),
        )
        return page, 401
    response = cast(Response, redirect(_safe_next(request.form.get("next")), code=303))
    start_session(response, user)
    log.info("ops user %s signed in", user.id)
    return response


@bp.post("/logout")
def logout() -> Any:
    response = cast(Response, redirect(url_for("ops_auth.login"), code=303))
    end_session(response)
    return response


def _account_key() -> str:
    return "account:" + hashlib.sha256(normalise_email(request.form.get("email") or "").encode()).hexdigest()


def _failed(response: Response) -> bool:
    return response.status_code != 303


def limiter_storage(redis_url: str) -> str:
    """The ``limits`` storage URI for the app's Redis (its unix socket spelling differs from redis-py's)."""
    return "redis+unix://" + redis_url.removeprefix("unix://") if redis_url.startswith("unix://") else redis_url


def init_limits(app: Flask) -> Limiter:
    """Flask-Limiter on the app's Redis, applied to the sign-in form only (nothing else on the app)."""
    settings = runtime_of(app).settings
    limiter = Limiter(
        get_remote_address,
        storage_uri=limiter_storage(settings.effective_redis_url),
        key_prefix="ops-limits",
        strategy="fixed-window",
    )
    limiter.init_app(app)
    view: Any = app.view_functions[LOGIN_ENDPOINT]
    view = limiter.limit(PER_ADDRESS, scope="ops-login-address", deduct_when=_failed)(view)
    view = limiter.limit(PER_ACCOUNT, key_func=_account_key, scope="ops-login-account", deduct_when=_failed)(view)
    app.view_functions[LOGIN_ENDPOINT] = view
    app.extensions["ops_limiter"] = limiter
    return limiter
