"""The merchant's roster (``/merchant/reps``, the shop's admin only): every rep with their book size,
capacity and state, and the forms to add a rep, edit one, send one away with a backup, bring them back,
or let them leave (their book is handed over by a job). The rules are ``reps.roster``'s, shared with the
``reps`` commands; a refusal is shown beside the field it is about (422) and changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import BooleanField, DateField, HiddenField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from integration import runtime_of
from integration.core.db import utcnow
from integration.messaging.offers import offer_of
from integration.reps.cards import zone_of
from integration.reps.hours import WeeklyHours, parse_hours
from integration.reps.merchant import Books, books_state
from integration.reps.models import DUNBAR, Rep, RepState
from integration.reps.offer_form import offers_view, page_values
from integration.reps.pages import page_blueprint
from integration.reps.roster import (
    DEFAULT_HOURS,
    RepInput,
    RosterError,
    add_rep,
    come_back,
    leave,
    list_reps,
    send_away,
    update_rep,
)
from integration.reps.tasks import enqueue_hand_over
from integration.shops.models import Shop
from integration.shops.staff import admin_required, current_staff
from integration.web.shop_section import suggested_zones, valid_email, valid_time_zone

bp = page_blueprint("reps_roster", __name__, url_prefix="/merchant/reps")

CAPACITY_MAX = 1000  # even with the override: a book this size is a mailing list


def sentence(text: str) -> str:
    """The roster's words as a sentence on the page (an address that starts it keeps its case)."""
    text = text.strip()
    if text and "@" not in text.split(" ", 1)[0]:
        text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _valid_hours(_form: FlaskForm, field: StringField) -> None:
    try:
        parse_hours(field.data or "")
    except ValueError as exc:
        raise ValidationError(sentence(str(exc))) from None


class RepForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF and WTForms ship no types
    name = StringField("Name", filters=[_strip], validators=[DataRequired("Enter the rep's name."), Length(max=255)])
    email = StringField(
        "Email",
        filters=[_strip],
        validators=[DataRequired("Enter the rep's email address: they sign in with it."), valid_email],
    )
    phone = StringField("Phone", filters=[_strip], validators=[Optional(), Length(max=64)])
    time_zone = StringField(
        "Time zone",
        filters=[_strip],
        validators=[DataRequired("Choose the rep's time zone, like Europe/London."), valid_time_zone],
    )
    hours = StringField(
        "Working hours",
        filters=[_strip],
        default=DEFAULT_HOURS,
        validators=[DataRequired("Enter the rep's working hours, like Mon-Fri 09:00-17:00."), _valid_hours],
        description="In the rep's own time zone, like “Mon-Fri 09:00-17:00”.",
    )
    capacity = IntegerField(
        "Capacity",
        default=DUNBAR,
        validators=[
            InputRequired("Enter how many customers the rep can hold."),
            NumberRange(1, CAPACITY_MAX, f"Choose a capacity from 1 to {CAPACITY_MAX}."),
        ],
        description=f"At most {DUNBAR} customers: past that, a book stops being personal.",
    )
    capacity_override = BooleanField(f"Allow more than {DUNBAR} (not recommended)")

    def validate_capacity(self, field: IntegerField) -> None:
        if field.data is not None and field.data > DUNBAR and not self.capacity_override.data:
            raise ValidationError(f"Above {DUNBAR} needs the override below: a book that large stops being personal.")

    def rep_input(self) -> RepInput:
        return RepInput(
            name=self.name.data,
            email=self.email.data,
            time_zone=self.time_zone.data,
            capacity=self.capacity.data,
            hours=self.hours.data,
            phone=self.phone.data or None,
            capacity_override=bool(self.capacity_override.data),
        )


class AwayForm(FlaskForm):  # type: ignore[misc]
    until = DateField("Away until (and including)", validators=[InputRequired("Choose the last day away.")])
    backup = SelectField("Backup", coerce=str, validators=[DataRequired("Choose who takes their calls.")])


class LeaveForm(FlaskForm):  # type: ignore[misc]
    confirm = BooleanField(
        "Yes: hand their customers over to the other reps",
        validators=[DataRequired("Tick the box to confirm: their customers get new reps.")],
    )


class BackForm(FlaskForm):  # type: ignore[misc]
    action = HiddenField(default="back")


def hours_text(stored: str) -> str:
    """Working hours as typed (``Mon-Fri 09:00-17:00; Sat 10:00-14:00``) from the stored JSON."""
    try:
        return str(WeeklyHours.from_json(stored))
    except (ValueError, KeyError, TypeError):
        return stored


@dataclass(frozen=True)
class RosterRow:
    rep: Rep
    hours: str
    backup: str | None
    over_dunbar: bool


def _shop() -> Shop:
    found = current_staff()
    assert found is not None  # admin_required let the request through
    return found[1]


def _rows(db: Session, shop: Shop) -> tuple[list[Rep], list[RosterRow]]:
    reps = list_reps(db, shop.id)
    names = {r.id: r.name for r in reps}
    rows = [
        RosterRow(
            rep=r,
            hours=hours_text(r.working_hours),
            backup=names.get(r.backup_rep_id) if r.backup_rep_id else None,
            over_dunbar=r.capacity > DUNBAR,
        )
        for r in reps
    ]
    return reps, rows


def _roster_page(db: Session, shop: Shop, form: RepForm | None = None, error: str | None = None) -> str:
    _reps, rows = _rows(db, shop)
    books: Books = books_state(db, shop.id)
    return render_template(
        "reps/roster.html",
        shop=shop,
        rows=rows,
        books=books,
        form=form or RepForm(formdata=None),
        zones=suggested_zones(),
        error=error,
        dunbar=DUNBAR,
        offers=offers_view(db, shop.id),
        nav="roster",
    )


_FIELD_WORDS = (
    ("working hours", "hours"),
    ("capacity", "capacity"),
    ("time zone", "time_zone"),
    ("name", "name"),
    ("email", "email"),
    ("roster", "email"),
)


def _place_error(form: RepForm, error: RosterError) -> None:
    """Show the roster's refusal beside the field it is about."""
    text = str(error)
    name = next((field for words, field in _FIELD_WORDS if words in text.lower()), "email")
    getattr(form, name).errors = [*getattr(form, name).errors, sentence(text)]


class _Refused(Exception):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.page = page


@bp.get("")
@admin_required
def roster() -> Any:
    with runtime_of(current_app).session() as db:
        return _roster_page(db, _shop())


@bp.post("")
@admin_required
def add() -> Any:
    shop = _shop()
    form = RepForm()
    try:
        with runtime_of(current_app).session() as db:
            if not form.validate():
                raise _Refused(_roster_page(db, shop, form))
            try:
                rep = add_rep(db, shop.id, form.rep_input())
            except RosterError as exc:
                _place_error(form, exc)
                raise _Refused(_roster_page(db, shop, form)) from None
            name = rep.name
    except _Refused as refused:
        return refused.page, 422
    flash(f"{name} is on the roster.", "success")
    return redirect(url_for("reps_roster.roster"), code=303)


def _rep(db: Session, shop: Shop, rep_id: int) -> Rep:
    rep = db.get(Rep, rep_id)
    if rep is None or rep.shop_id != shop.id:
        abort(404, description="No such rep on this shop's roster.")
    return rep


def _rep_page(db: Session, shop: Shop, rep: Rep, **forms: Any) -> str:
    reps = list_reps(db, shop.id)
    backups = [(str(r.id), r.name) for r in reps if r.id != rep.id and r.state == RepState.ACTIVE]
    edit = forms.get("edit") or RepForm(
        formdata=None,
        data={
            "name": rep.name,
            "email": rep.email,
            "phone": rep.phone or "",
            "time_zone": rep.time_zone,
            "hours": hours_text(rep.working_hours),
            "capacity": rep.capacity,
            "capacity_override": rep.capacity_override,
        },
    )
    away = forms.get("away") or AwayForm(formdata=None)
    away.backup.choices = [SelectChoice("", "Choose a rep"), *(SelectChoice(rid, name) for rid, name in backups)]
    return render_template(
        "reps/rep.html",
        shop=shop,
        rep=rep,
        backup=next((name for rid, name in backups if rid == str(rep.backup_rep_id)), None),
        edit=edit,
        away=away,
        leave_form=forms.get("leave") or LeaveForm(formdata=None),
        back=BackForm(formdata=None),
        zones=suggested_zones(),
        dunbar=DUNBAR,
        nav="roster",
        **page_values(db, shop.id, rep.id, offer_of(db, rep.id), forms.get("offer")),
    )


@bp.get("/<int:rep_id>")
@admin_required
def rep_page(rep_id: int) -> Any:
    shop = _shop()
    with runtime_of(current_app).session() as db:
        return _rep_page(db, shop, _rep(db, shop, rep_id))


@bp.post("/<int:rep_id>")
@admin_required
def edit(rep_id: int) -> Any:
    shop = _shop()
    form = RepForm()
    try:
        with runtime_of(current_app).session() as db:
            rep = _rep(db, shop, rep_id)
            if rep.state == RepState.LEFT:
                abort(409, description=f"{rep.name} has left; add them again to bring them back.")
            if not form.validate():
                raise _Refused(_rep_page(db, shop, rep, edit=form))
            try:
                update_rep(db, rep, form.rep_input())
            except RosterError as exc:
                _place_error(form, exc)
                raise _Refused(_rep_page(db, shop, rep, edit=form)) from None
            name = rep.name
    except _Refused as refused:
        return refused.page, 422
    flash(f"{name}'s details saved.", "success")
    return redirect(url_for("reps_roster.rep_page", rep_id=rep_id), code=303)


@bp.post("/<int:rep_id>/away")
@admin_required
def away(rep_id: int) -> Any:
    shop = _shop()
    form = AwayForm()
    try:
        with runtime_of(current_app).session() as db:
            rep = _rep(db, shop, rep_id)
            reps = list_reps(db, shop.id)
            form.backup.choices = [
                SelectChoice("", "Choose a rep"),
                *(SelectChoice(str(r.id), r.name) for r in reps if r.id != rep.id),
            ]
            backup = next((r for r in reps if str(r.id) == form.backup.data), None)
            if not form.validate() or backup is None:
                raise _Refused(_rep_page(db, shop, rep, away=form))
            today = utcnow().astimezone(zone_of(rep.time_zone)).date()
            try:
                send_away(db, rep, form.until.data, backup, today=today)
            except RosterError as exc:
                field = form.until if "date" in str(exc) else form.backup
                field.errors = [*field.errors, sentence(str(exc))]
                raise _Refused(_rep_page(db, shop, rep, away=form)) from None
            name, backup_name = rep.name, backup.name
    except _Refused as refused:
        return refused.page, 422
    flash(f"{name} is away until {form.until.data:%-d %b %Y}; {backup_name} takes their calls.", "success")
    return redirect(url_for("reps_roster.rep_page", rep_id=rep_id), code=303)


@bp.post("/<int:rep_id>/back")
@admin_required
def back(rep_id: int) -> Any:
    shop = _shop()
    with runtime_of(current_app).session() as db:
        rep = _rep(db, shop, rep_id)
        if rep.state != RepState.AWAY:
            abort(409, description=f"{rep.name} is not away.")
        come_back(db, rep)
        name = rep.name
    flash(f"{name} is back and takes their own calls again.", "success")
    return redirect(url_for("reps_roster.rep_page", rep_id=rep_id), code=303)


@bp.post("/<int:rep_id>/leave")
@admin_required
def leave_roster(rep_id: int) -> Any:
    shop = _shop()
    form = LeaveForm()
    try:
        with runtime_of(current_app).session() as db:
            rep = _rep(db, shop, rep_id)
            if rep.state == RepState.LEFT:
                abort(409, description=f"{rep.name} has left already.")
            if not form.validate():
                raise _Refused(_rep_page(db, shop, rep, leave=form))
            leave(db, rep)
            name, book = rep.name, rep.book_size
    except _Refused as refused:
        return refused.page, 422
    # After the commit: the job reads the rep as left.
    enqueue_hand_over(runtime_of(current_app), rep_id)
    flash(f"{name} has left; their {book} customers are being handed over to the other reps.", "success")
    return redirect(url_for("reps_roster.roster"), code=303)
