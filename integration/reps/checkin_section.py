"""The settings page's check-ins section: the call script reps read from, the customers' calling window,
the expected transit days, the delay before a call and the fewest days between two calls.

One row per shop (``checkin_settings``), created on the first save; until then the defaults apply (the
same ones :func:`integration.reps.checkins.rules_for` and :func:`integration.reps.reading.call_script`
fall back to). Changes apply to calls placed from then on: calls already scheduled keep their time.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import InputRequired, ValidationError

from integration.reps.checkins import DEFAULT_WINDOW
from integration.reps.hours import parse_hours
from integration.reps.models import CheckInSettings
from integration.reps.reading import DEFAULT_SCRIPT
from integration.web.settings import Outcome, Section, SectionRequest

SCRIPT_MAX_QUESTIONS = 12
QUESTION_MAX = 300
WINDOW_MAX = 255  # the column's width
TRANSIT_MAX = DELAY_MAX = 60
BETWEEN_MAX = 365


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _lines(value: Any) -> Any:
    """One question a line: surrounding blanks and empty lines go (what reps are shown is the same)."""
    if not isinstance(value, str):
        return value
    return "\n".join(
        line.strip() for line in value.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line.strip()
    )


def _valid_script(_form: FlaskForm, field: TextAreaField) -> None:
    questions = (field.data or "").split("\n") if field.data else []
    if not questions:
        raise ValidationError("Write at least one question, one a line (or reset to the four questions).")
    if len(questions) > SCRIPT_MAX_QUESTIONS:
        raise ValidationError(f"Keep the script to {SCRIPT_MAX_QUESTIONS} questions or fewer, one a line.")
    long = next((n for n, q in enumerate(questions, 1) if len(q) > QUESTION_MAX), None)
    if long is not None:
        raise ValidationError(f"Question {long} is longer than {QUESTION_MAX} characters; shorten it.")
    if any(ord(ch) < 32 and ch != "\n" for ch in field.data or ""):
        raise ValidationError("Use plain text: no tabs or other control characters.")


def _valid_window(_form: FlaskForm, field: StringField) -> None:
    try:
        hours = parse_hours(field.data or "")
    except ValueError as exc:
        text = str(exc)
        raise ValidationError(f"{text[:1].upper()}{text[1:]}{'' if text.endswith('.') else '.'}") from None
    if hours.empty:  # parse_hours refuses this already; a window with no hours would mean no calls ever
        raise ValidationError("A calling window needs some hours, like Mon-Fri 10:00-19:00.")
    if len(str(hours)) > WINDOW_MAX:
        raise ValidationError(f"Write the window in {WINDOW_MAX} characters or fewer.")


class DaysField(IntegerField):  # type: ignore[misc]
    """A whole number of days, with one message for anything else (not WTForms' two)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        if valuelist and valuelist[0].strip():
            try:
                self.data = int(valuelist[0].strip())
            except ValueError:
                raise ValueError("Enter a whole number of days, like 2.") from None


def _days(label: str, most: int, description: str) -> DaysField:
    def in_range(_form: FlaskForm, field: DaysField) -> None:
        if field.data is not None and not 0 <= field.data <= most:
            raise ValidationError(f"Enter a number of days from 0 to {most}.")

    return DaysField(
        label,
        validators=[InputRequired(f"Enter a number of days from 0 to {most}."), in_range],
        description=description,
    )


class CheckInForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF and WTForms ship no types
    section = HiddenField(default="checkins")
    call_script = TextAreaField(
        "Call script",
        filters=[_lines],
        validators=[_valid_script],
        description="The questions reps ask on every check-in call, one a line, in order.",
    )
    calling_window = StringField(
        "Calling window",
        filters=[_strip],
        validators=[InputRequired("Enter when customers may be called, like Mon-Fri 10:00-19:00."), _valid_window],
        description=(
            "When customers may be called, in each customer's own time zone, like “Mon-Fri 10:00-19:00” or "
            "“Mon-Fri 10:00-19:00; Sat 10:00-13:00”. Calls also fall inside their rep's working hours."
        ),
    )
    transit_days = _days(
        "Transit days",
        TRANSIT_MAX,
        "When the platform never reports a delivery: days from shipping until a parcel is assumed to have arrived.",
    )
    delay_days = _days("Days after delivery", DELAY_MAX, "How long after the order arrives the check-in call is due.")
    min_days_between = _days(
        "Days between calls",
        BETWEEN_MAX,
        "At most one check-in call per customer in this many days (a later delivery inside it gets none).",
    )


def _stored(row: CheckInSettings | None) -> dict[str, Any]:
    script = (row.call_script if row is not None else None) or "\n".join(DEFAULT_SCRIPT)
    if row is None:
        return {
            "call_script": script,
            "calling_window": DEFAULT_WINDOW,
            "transit_days": 4,
            "delay_days": 2,
            "min_days_between": 30,
        }
    return {
        "call_script": script,
        "calling_window": row.calling_window or DEFAULT_WINDOW,
        "transit_days": row.transit_days,
        "delay_days": row.delay_days,
        "min_days_between": row.min_days_between,
    }


class CheckInSection(Section):
    key = "checkins"
    title = "Check-in calls"
    template = "settings/checkins.html"

    def view(self, req: SectionRequest) -> dict[str, Any]:
        row = req.db.get(CheckInSettings, req.shop.id)
        return {"form": CheckInForm(formdata=None, data=_stored(row))}

    def submit(self, req: SectionRequest) -> Outcome:
        form = CheckInForm()
        if not form.validate():
            return Outcome.again(form=form)
        row = req.db.get(CheckInSettings, req.shop.id)
        if row is None:
            row = CheckInSettings(shop_id=req.shop.id)
            req.db.add(row)
        script = form.call_script.data
        # The four questions as written by default are stored as "none": a later change of the default
        # then reaches shops that never edited theirs.
        row.call_script = None if script == "\n".join(DEFAULT_SCRIPT) else script
        # Stored as the page shows it back ("Mon-Fri 10:00-19:00"), whichever way it was typed.
        row.calling_window = str(parse_hours(form.calling_window.data))
        row.transit_days = form.transit_days.data
        row.delay_days = form.delay_days.data
        row.min_days_between = form.min_days_between.data
        return Outcome.saved("Check-in settings saved.")


CHECKIN_SECTION = CheckInSection()
