"""The merchant's form for a book's own thank-you code offer (on the rep's page), and what the roster and
rep pages show of the books' offers (``messaging.offers`` holds the rules and the numbers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import BooleanField, HiddenField, IntegerField
from wtforms.validators import InputRequired, NumberRange

from integration.messaging.models import BookOffer
from integration.messaging.offers import (
    DAYS_MAX,
    DAYS_MIN,
    PERCENT_MAX,
    PERCENT_MIN,
    BookStats,
    CodeTerms,
    book_stats,
    shop_terms,
)
from integration.messaging.thankyou import settings_for

PERCENT_MESSAGE = f"Choose a discount from {PERCENT_MIN} to {PERCENT_MAX} %."
DAYS_MESSAGE = f"Choose from {DAYS_MIN} to {DAYS_MAX} days."


class OfferForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF and WTForms ship no types
    enabled = BooleanField("Use this offer for this book's thank-you codes", default=True)
    percent = IntegerField(
        "Discount (%)",
        # NumberRange formats its message with %: the percent sign is doubled there.
        validators=[
            InputRequired(PERCENT_MESSAGE),
            NumberRange(PERCENT_MIN, PERCENT_MAX, PERCENT_MESSAGE.replace("%", "%%")),
        ],
        description=f"{PERCENT_MIN} to {PERCENT_MAX}.",
    )
    days = IntegerField(
        "Valid for (days)",
        validators=[InputRequired(DAYS_MESSAGE), NumberRange(DAYS_MIN, DAYS_MAX, DAYS_MESSAGE.replace("%", "%%"))],
        description=f"{DAYS_MIN} to {DAYS_MAX}, from the day the code is made.",
    )


class ClearOfferForm(FlaskForm):  # type: ignore[misc]
    action = HiddenField(default="clear")


def offer_form_for(offer: BookOffer | None, default: CodeTerms) -> OfferForm:
    """The form as saved (or, for a book without an offer, starting from the shop's default)."""
    if offer is None:
        return OfferForm(formdata=None, data={"enabled": True, "percent": default.percent, "days": default.days})
    return OfferForm(formdata=None, data={"enabled": offer.enabled, "percent": offer.percent, "days": offer.days})


@dataclass(frozen=True)
class Offers:
    """The shop's default offer, whether codes are on at all, and every book's numbers."""

    codes_enabled: bool
    default: CodeTerms
    books: list[BookStats]

    def book(self, rep_id: int) -> BookStats | None:
        return next((book for book in self.books if book.rep_id == rep_id), None)


def offers_view(db: Session, shop_id: int) -> Offers:
    mail = settings_for(db, shop_id)
    return Offers(bool(mail.codes_enabled), shop_terms(mail), book_stats(db, shop_id))


def page_values(db: Session, shop_id: int, rep_id: int, offer: BookOffer | None, form: Any = None) -> dict[str, Any]:
    """What the rep page's offer section needs."""
    offers = offers_view(db, shop_id)
    return {
        "offers": offers,
        "book": offers.book(rep_id),
        "offer": offer,
        "offer_form": form or offer_form_for(offer, offers.default),
        "clear_form": ClearOfferForm(formdata=None),
    }
