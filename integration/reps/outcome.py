"""The one form a rep fills in after a call: how it went, what the customer said, what happens next."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, StopValidation, ValidationError

from integration.reps.cards import OUTCOME_LABELS

NOTES_MAX = 5000
IMPROVE_MAX = 2000
FOLLOW_UP_NOTE_MAX = 500
FOLLOW_UP_HORIZON = dt.timedelta(days=366)
REACHED = "reached"


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _newlines(value: Any) -> Any:
    return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value


def _chosen_outcome(_form: FlaskForm, field: RadioField) -> None:
    if field.data not in OUTCOME_LABELS:
        raise StopValidation("Choose how the call went.")


def _score(form: FlaskForm, field: RadioField) -> None:
    if field.data in (None, ""):
        field.data = None
        return
    if not (isinstance(field.data, str) and field.data.isdigit() and 0 <= int(field.data) <= 10):
        raise ValidationError("Choose a score from 0 to 10.")
    if form.outcome.data != REACHED:
        raise ValidationError("A score needs a conversation: choose “Reached”, or leave the score empty.")


class OutcomeForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF and WTForms ship no types
    outcome = RadioField(
        "How did the call go?",
        choices=[SelectChoice(value, label) for value, label in OUTCOME_LABELS.items()],
        validate_choice=False,
        validators=[_chosen_outcome],
    )
    notes = TextAreaField(
        "Notes",
        filters=[_newlines, _strip],
        validators=[Optional(), Length(max=NOTES_MAX, message=f"Keep the notes to {NOTES_MAX} characters or fewer.")],
        description="What the customer told you, for whoever calls them next.",
    )
    recommend = RadioField(
        "How likely are they to recommend us? (0 = not at all, 10 = extremely)",
        choices=[SelectChoice(str(i)) for i in range(11)],
        validate_choice=False,
        validators=[_score],
    )
    improve = TextAreaField(
        "What would they improve?",
        filters=[_newlines, _strip],
        validators=[
            Optional(),
            Length(max=IMPROVE_MAX, message=f"Keep this to {IMPROVE_MAX} characters or fewer."),
        ],
    )
    improve_product_id = SelectField(
        "About which product?", choices=[SelectChoice("", "No product in particular")], validators=[Optional()]
    )
    follow_up_at = DateField(
        "Follow-up date",
        validators=[Optional()],
        description="A call to make on that day (in the customer's calling hours).",
    )
    follow_up_note = StringField(
        "Follow-up note",
        filters=[_strip],
        validators=[
            Optional(),
            Length(max=FOLLOW_UP_NOTE_MAX, message=f"Keep the note to {FOLLOW_UP_NOTE_MAX} characters or fewer."),
        ],
        description="Why to call again, shown on that day's task.",
    )
    do_not_call = BooleanField("They asked not to be called again")

    def __init__(self, *args: Any, products: list[tuple[str, str]] | None = None, today: dt.date, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.improve_product_id.choices = [
            SelectChoice("", "No product in particular"),
            *(SelectChoice(value, label) for value, label in products or []),
        ]
        self.today = today
        self.improve_product_id.invalid_choice_message = "Choose one of the products in their orders."

    def validate(self, extra_validators: Any = None) -> bool:
        valid: bool = super().validate(extra_validators)
        # A note without a date: said beside the date (an empty date stops that field's own checks).
        if self.follow_up_at.data is None and not self.follow_up_at.errors and self.follow_up_note.data:
            self.follow_up_at.errors = [
                *self.follow_up_at.errors,
                "Choose a date for the follow-up, or clear its note.",
            ]
            valid = False
        return valid

    def validate_follow_up_at(self, field: DateField) -> None:
        if field.data < self.today:
            raise ValidationError("The follow-up date is in the past.")
        if field.data > self.today + FOLLOW_UP_HORIZON:
            raise ValidationError("Choose a follow-up date within a year.")
        if self.do_not_call.data:
            raise ValidationError("They asked not to be called: a follow-up call cannot be planned.")

    @property
    def score(self) -> int | None:
        return int(self.recommend.data) if self.recommend.data not in (None, "") else None
