"""The merchant's settings page: the one place every capability keeps its settings (shop admins only).

The page is a list of *sections*. Each section is one object (:class:`Section`) with a title, a
template partial under ``templates/settings/`` that it renders into, what that partial needs
(:meth:`Section.view`), and what a POST naming it does (:meth:`Section.submit`). ``SECTIONS`` lists them
by dotted path, in page order: a capability adds its settings by writing its own section and one line
there, without touching the others. Now: the shop's details (``shop``, in ``shop_section.py``), the
staff roster (``staff``) and the check-in calls (``checkins``, in ``integration/reps/checkin_section.py``);
email templates arrive with their capability.

Every form posts to ``POST /settings`` with a hidden ``section`` field (and, for forms with several
buttons, ``action``). The CSRF token is checked for every POST before any section sees it (400 when
it is missing, expired or not this session's). A section's answer is a success (flashed, then
POST/redirect/GET) or the page again with its messages (422 for invalid input, 400 for a request the
page never makes).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.csrf import validate_csrf
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.utils import import_string
from wtforms import HiddenField
from wtforms.validators import ValidationError

from integration import runtime_of
from integration.reps.models import Rep, RepState
from integration.reps.roster import RosterError
from integration.reps.staff_roster import put_on_roster, take_off_roster
from integration.shops.models import Shop, StaffRole, StaffUser
from integration.shops.staff import admin_required, current_staff
from integration.web.security import apply_page_headers

bp = Blueprint("settings", __name__)

# The page's sections, in order, by dotted path to a Section object (resolved on first use).
SECTIONS = (
    "integration.web.shop_section:SHOP_SECTION",
    "integration.web.settings:STAFF_SECTION",
    "integration.reps.checkin_section:CHECKIN_SECTION",
    "integration.messaging.settings_section:EMAIL_SECTION",
)


# --- the section protocol ------------------------------------------------------------------------


@dataclass
class SectionRequest:
    """What a section works with: the database session (one transaction per request) and the signed-in
    admin and their shop, both attached to that session."""

    db: Session
    shop: Shop
    me: StaffUser


@dataclass(frozen=True)
class Outcome:
    """A section's answer to a POST: ``message`` flashed on success; otherwise ``context`` (merged into
    the section's own view) renders the page again with ``status``."""

    ok: bool
    message: str = ""
    context: Mapping[str, Any] = field(default_factory=dict)
    status: int = 422

    @classmethod
    def saved(cls, message: str) -> Outcome:
        return cls(ok=True, message=message)

    @classmethod
    def again(cls, status: int = 422, **context: Any) -> Outcome:
        return cls(ok=False, context=context, status=status)


class Section:
    """One part of the settings page. Subclasses set ``key`` (also the hidden ``section`` field),
    ``title`` and ``template`` and implement :meth:`view` and :meth:`submit`."""

    key: str = ""
    title: str = ""
    template: str = ""

    def view(self, req: SectionRequest) -> dict[str, Any]:
        """The variables the section's template needs (as ``s`` inside it), for a GET."""
        raise NotImplementedError

    def submit(self, req: SectionRequest) -> Outcome:
        """Handle a POST naming this section (the CSRF token is already checked). Change nothing unless
        the whole input is valid: the transaction commits whatever was changed when the outcome is ok,
        and rolls back otherwise."""
        raise NotImplementedError


@functools.cache
def sections() -> tuple[Section, ...]:
    found = tuple(import_string(path) for path in SECTIONS)
    keys = [s.key for s in found]
    if len(set(keys)) != len(keys) or not all(isinstance(s, Section) and s.key and s.template for s in found):
        raise RuntimeError(f"settings sections must be Section objects with unique keys: {keys}")
    return found


# --- the staff roster ----------------------------------------------------------------------------


class RosterForm(FlaskForm):  # type: ignore[misc]
    """One button on one staff row: put the person on the roster (a rep) or take them off it."""

    section = HiddenField(default="staff")
    staff_id = HiddenField()
    action = HiddenField()


ROSTER_ACTIONS = {"add": StaffRole.REP, "remove": StaffRole.STAFF}


@dataclass(frozen=True)
class StaffRow:
    id: int
    name: str
    email: str
    role: str
    active: bool
    last_seen: str
    is_me: bool
    action: str | None  # "add", "remove" or None (the admin, or someone the platform removed)
    form: RosterForm | None


def local_time(when: dt.datetime | None, zone: str | None) -> str:
    if when is None:
        return "never"
    try:
        tz: dt.tzinfo = ZoneInfo(zone) if zone else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):  # a zone this tz database no longer knows
        tz = dt.UTC
    local = when.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M %Z")


def _on_roster(db: Session, shop_id: int) -> tuple[set[int], set[str]]:
    """Who has a rep (not one who left): by the linked staff row, and by email (a rep added by address)."""
    rows = db.execute(
        sa.select(Rep.staff_user_id, Rep.email).where(Rep.shop_id == shop_id, Rep.state != RepState.LEFT)
    ).all()
    return {r.staff_user_id for r in rows if r.staff_user_id is not None}, {r.email for r in rows}


def staff_rows(db: Session, shop: Shop, me: StaffUser) -> list[StaffRow]:
    linked, emails = _on_roster(db, shop.id)
    people = db.scalars(
        sa.select(StaffUser)
        .where(StaffUser.shop_id == shop.id)
        .order_by(
            sa.case({StaffRole.ADMIN: 0, StaffRole.REP: 1}, value=StaffUser.role, else_=2),
            StaffUser.active.desc(),
            sa.func.lower(sa.func.coalesce(StaffUser.name, StaffUser.email, "")),
            StaffUser.id,
        )
    )
    rows = []
    for person in people:
        # The roster is the reps (``Rep`` rows): a staff row shows as a rep when it has one, so this list,
        # the roster page and ``reps list`` agree.
        is_rep = person.role == StaffRole.REP or person.id in linked or (person.email or "").strip().lower() in emails
        role = person.role if person.role == StaffRole.ADMIN else (StaffRole.REP if is_rep else StaffRole.STAFF)
        action = None
        if role == StaffRole.REP:
            action = "remove"
        elif role == StaffRole.STAFF and person.active:
            action = "add"
        form = RosterForm(formdata=None, data={"staff_id": str(person.id), "action": action}) if action else None
        rows.append(
            StaffRow(
                id=person.id,
                name=person.name or "(no name)",
                email=person.email or "",
                role=role,
                active=person.active,
                last_seen=local_time(person.last_seen_at, shop.time_zone),
                is_me=person.id == me.id,
                action=action,
                form=form,
            )
        )
    return rows


class StaffSection(Section):
    key = "staff"
    title = "Staff"
    template = "settings/staff.html"

    def view(self, req: SectionRequest) -> dict[str, Any]:
        return {"rows": staff_rows(req.db, req.shop, req.me), "error": None}

    def submit(self, req: SectionRequest) -> Outcome:
        form = RosterForm()
        role = ROSTER_ACTIONS.get(form.action.data or "")
        staff_id = form.staff_id.data or ""
        if role is None or not staff_id.isdigit():
            return Outcome.again(400, error="That roster change is not one this page offers.")
        # Scoped to the signed-in shop: anyone else's staff are "not found", like ids that never existed.
        person = req.db.scalar(
            sa.select(StaffUser).where(StaffUser.id == int(staff_id), StaffUser.shop_id == req.shop.id)
        )
        if person is None:
            abort(404, description="no such person among this shop's staff")
        who = person.name or person.email or "This person"
        if person.role == StaffRole.ADMIN:
            # The admin is the shop's owner on the platform; the roster never changes that (nor can the
            # admin demote themselves by accident).
            message = (
                "You are the shop's admin; your role comes from owning the shop and cannot change here."
                if person.id == req.me.id
                else f"{who} is the shop's admin; their role comes from the platform and cannot change here."
            )
            return Outcome.again(400, error=message)
        if role == StaffRole.REP and not person.active:
            return Outcome.again(
                422, error=f"{who} no longer has access to the shop on the platform, so cannot join the roster."
            )
        if role == StaffRole.REP:
            try:
                return Outcome.saved(put_on_roster(req.db, req.shop, person))
            except RosterError as exc:
                return Outcome.again(422, error=str(exc))
        linked, emails = _on_roster(req.db, req.shop.id)
        on_roster = person.role == StaffRole.REP or person.id in linked or (person.email or "").lower() in emails
        if not on_roster:
            return Outcome.saved(f"{who} is already off the roster.")
        return Outcome.saved(take_off_roster(req.db, person))


STAFF_SECTION = StaffSection()


# --- the page ------------------------------------------------------------------------------------


def _signed_in() -> tuple[StaffUser, Shop]:
    found = current_staff()
    assert found is not None  # admin_required let the request through
    return found


def _render(req: SectionRequest, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    contexts = {}
    for section in sections():
        contexts[section.key] = {**section.view(req), **(overrides or {}).get(section.key, {})}
    return render_template("settings.html", shop=req.shop, me=req.me, sections=sections(), contexts=contexts)


@bp.get("/settings")
@admin_required
def show() -> str:
    me, shop = _signed_in()
    with runtime_of(current_app).session() as db:
        req = SectionRequest(db, db.get_one(Shop, shop.id), db.get_one(StaffUser, me.id))
        return _render(req)


class _Discard(Exception):
    def __init__(self, page: str, status: int) -> None:
        super().__init__(status)
        self.page, self.status = page, status


@bp.post("/settings")
@admin_required
def save() -> Any:
    check_csrf()
    me, shop = _signed_in()
    section = next((s for s in sections() if s.key == request.form.get("section")), None)
    if section is None:
        abort(400, description="this form names no settings section; reload the page and try again")
    try:
        with runtime_of(current_app).session() as db:
            req = SectionRequest(db, db.get_one(Shop, shop.id), db.get_one(StaffUser, me.id))
            outcome = section.submit(req)
            if not outcome.ok:
                raise _Discard(_render(req, {section.key: outcome.context}), outcome.status)
    except _Discard as again:  # rolled back: whatever the section had begun to change is not kept
        return again.page, again.status
    flash(outcome.message, "success")
    return redirect(url_for("settings.show", _anchor=section.key), code=303)


def check_csrf() -> None:
    """Every POST carries this session's CSRF token (checked after sign-in, so a stranger sees 401)."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as exc:
        abort(400, description=f"{exc} Reload the page and try again.")


@bp.after_request
def page_headers(response: Response) -> Response:
    found = current_staff()
    return apply_page_headers(response, found[1] if found else None)


def _error_page(exc: HTTPException) -> tuple[str, int]:
    return render_template("error.html", error=exc), exc.code or 500


for _code in (400, 401, 403, 404):
    # The page's own errors are pages too (the app answers JSON everywhere else).
    bp.register_error_handler(_code, _error_page)
