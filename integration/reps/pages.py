"""What every reps page shares: who is looking (a rep, or the shop's admin), headers, CSRF, errors, paging.

Two kinds of people use these pages:

* **A rep**, in the workspace (``/workspace``). A rep is signed in by an emailed link (the session then
  holds ``rep_id``, ``shop_id`` and the sign-in time: like every session it ends 12 hours after, never
  extended), or by the platform's own sign-in: a staff session whose person is a
  rep of that shop (linked on the roster, or with the same email) is that rep. A rep who left, or whose
  shop was uninstalled, is nobody.
* **The shop's admin**, on the merchant pages: the existing platform sign-in (``admin_required``).

Everything a page reads is scoped to the signed-in shop (and, for a rep, to their own book and tasks):
another shop's ids answer 404 like ids that never existed, so a URL reveals nothing.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import generate_csrf, validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms.validators import ValidationError

from integration import runtime_of
from integration.core.sessions import SESSION_LIFETIME
from integration.reps.landing import rep_for_staff
from integration.reps.models import Rep, RepState
from integration.shops.models import Shop, ShopState
from integration.shops.staff import SESSION_SHOP, SESSION_SIGNED_IN, current_staff
from integration.web.security import apply_page_headers

SESSION_REP = "rep_id"
PAGE_SIZE = 50

View = TypeVar("View", bound=Callable[..., Any])


@dataclass(frozen=True)
class SignedInRep:
    """The rep using the workspace and their shop (detached copies, read once per request)."""

    rep: Rep
    shop: Shop


def _rep_by_link(rep_id: int, shop_id: int) -> SignedInRep | None:
    with runtime_of(current_app).session() as db:
        row = db.execute(
            sa.select(Rep, Shop)
            .join(Shop, Shop.id == Rep.shop_id)
            .where(Rep.id == rep_id, Shop.id == shop_id, Rep.state != RepState.LEFT, Shop.state == ShopState.ACTIVE)
        ).one_or_none()
        db.expunge_all()
    return SignedInRep(row[0], row[1]) if row is not None else None


def _rep_by_staff() -> SignedInRep | None:
    found = current_staff()
    if found is None:
        return None
    staff, shop = found
    with runtime_of(current_app).session() as db:
        rep = rep_for_staff(db, shop.id, staff.id, staff.email)
        db.expunge_all()
    return SignedInRep(rep, shop) if rep is not None else None


def current_rep() -> SignedInRep | None:
    """The rep signed in to the workspace, if any (loaded once per request)."""
    if "signed_in_rep" in g:
        return cast("SignedInRep | None", g.signed_in_rep)
    rep_id, shop_id = session.get(SESSION_REP), session.get(SESSION_SHOP)
    found = None
    if isinstance(rep_id, int) and isinstance(shop_id, int):
        signed_in = session.get(SESSION_SIGNED_IN)
        if isinstance(signed_in, int) and 0 <= time.time() - signed_in < SESSION_LIFETIME:
            found = _rep_by_link(rep_id, shop_id)
        else:
            session.clear()  # ended for good (12 hours after the link was used): the cookie goes
    elif rep_id is None:
        found = _rep_by_staff()
    g.signed_in_rep = found
    return found


def signed_in_rep() -> SignedInRep:
    found = current_rep()
    assert found is not None  # rep_required let the request through
    return found


def rep_required(view: View) -> View:
    """The workspace's pages: a rep, or the sign-in page (a GET) / 401 (anything else)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_rep() is None:
            if request.method == "GET":
                return redirect(url_for("reps_signin.ask"), code=303)
            abort(401, description="Your session has ended: sign in again with a link sent to your email.")
        return view(*args, **kwargs)

    return cast(View, wrapper)


def page_shop() -> Shop | None:
    """The shop whose admin may frame the page being answered (None: nobody signed in)."""
    found = current_rep()
    if found is not None:
        return found.shop
    staff = current_staff()
    return staff[1] if staff else None


def check_csrf() -> None:
    """Every POST carries this session's CSRF token (400 otherwise, before anything is read or changed)."""
    if request.method != "POST":
        return
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as exc:
        abort(400, description=f"{exc} Reload the page and try again.")


def _page_headers(response: Response) -> Response:
    return apply_page_headers(response, page_shop())


def _error_page(exc: HTTPException) -> tuple[str, int]:
    return render_template("error.html", error=exc), exc.code or 500


def page_blueprint(name: str, import_name: str, url_prefix: str | None = None) -> Blueprint:
    """A blueprint of pages: CSRF on every POST, the page headers, errors answered as pages."""
    bp = Blueprint(name, import_name, url_prefix=url_prefix)
    bp.before_request(check_csrf)
    bp.after_request(_page_headers)
    bp.context_processor(lambda: {"csrf_token": generate_csrf})
    for code in (400, 401, 403, 404, 405, 409, 429, 503):
        bp.register_error_handler(code, _error_page)
    return bp


# --- paging --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    number: int
    size: int
    total: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def first_shown(self) -> int:
        return min(self.total, self.offset + 1)

    @property
    def last_shown(self) -> int:
        return min(self.total, self.offset + self.size)


def page_number() -> int:
    raw = request.args.get("page", "1")
    return max(1, min(int(raw), 100_000)) if raw.isdigit() else 1
