"""The preference centre's state and its save: what the page shows, and what a submitted form changes.

Everything the page shows comes from the derived state (the customer's consent columns and
``customer_preferences``); everything a save changes goes into the consent ledger, one entry per topic that
changed, with the version of the page's wording (:data:`WORDING`). "No calls" also cancels the customer's
open check-ins (``reps.checkins.on_call_consent``); new ones are never made for them (check-ins read the
same calls consent).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.customers.models import Customer, Product
from integration.customers.views import top_product_types
from integration.messaging.contactable import OPTED_IN, OPTED_OUT, consent_required
from integration.messaging.ledger import Change, record
from integration.messaging.links import LinkTarget
from integration.messaging.models import CustomerPreferences, EmailSettings
from integration.reps.checkins import on_call_consent, wants_no_calls
from integration.reps.models import Rep
from integration.shops.models import Shop, ShopState

__all__ = ["FREQUENCIES", "WORDING", "Centre", "load", "save"]

# The version of the page's words: recorded on every change made through it (what the customer saw).
WORDING = "preferences-2026-12"
FREQUENCIES = (
    ("everything", "Everything: news, offers and notes from your contact"),
    ("monthly", "At most once a month"),
    ("important", "Only what matters: your orders and important changes"),
)
PAUSES = (30, 90)
MAX_TYPES = 40
YES, NO = "subscribed", "unsubscribed"


@dataclass(frozen=True)
class Centre:
    shop_id: int
    customer_id: int
    shop_name: str
    first_name: str | None
    rep_name: str | None
    email_on: bool
    sms_on: bool
    calls_on: bool
    interests: tuple[str, ...]
    offered: tuple[str, ...]
    frequency: str
    paused_until: dt.datetime | None

    @property
    def rep_initial(self) -> str:
        return (self.rep_name or "?").strip()[:1].upper() or "?"

    @property
    def unsubscribed_all(self) -> bool:
        return not self.email_on and not self.sms_on


def _word(value: str | None) -> str:
    return (value or "").strip().lower()


def email_on(state: str | None, country: str | None, required_in: str | None) -> bool:
    """What the page shows for email: on unless they said no, or they never said yes where a yes is needed."""
    word = _word(state)
    if word in OPTED_OUT:
        return False
    return word in OPTED_IN or not consent_required(country, required_in or "EU,GB,CA")


def load(session: Session, target: LinkTarget, now: dt.datetime) -> Centre | None:
    """The page's state; None when the customer or their shop is gone (the link is then no good)."""
    row = session.execute(
        sa.select(Customer, Shop)
        .join(Shop, Shop.id == Customer.shop_id)
        .where(Customer.id == target.customer_id, Customer.shop_id == target.shop_id, Shop.state == ShopState.ACTIVE)
    ).one_or_none()
    if row is None or row[0].deleted_at is not None:
        return None
    customer, shop = row
    rep_name = session.scalar(sa.select(Rep.name).where(Rep.id == customer.rep_id)) if customer.rep_id else None
    prefs = session.get(CustomerPreferences, customer.id)
    required_in = session.scalar(sa.select(EmailSettings.consent_required_in).where(EmailSettings.shop_id == shop.id))
    offered = list(
        session.scalars(
            sa.select(Product.product_type)
            .where(Product.shop_id == shop.id, Product.product_type.is_not(None))
            .group_by(Product.product_type)
            .order_by(Product.product_type)
            .limit(MAX_TYPES)
        )
    )
    if prefs is not None and prefs.interests is not None:
        interests = tuple(json.loads(prefs.interests))
    else:
        interests = tuple(kind for kind, _qty in top_product_types(session, customer))  # pre-mark what they bought
    offered_all = tuple(dict.fromkeys([*offered, *interests]))
    paused = prefs.paused_until if prefs is not None and prefs.paused_until and prefs.paused_until > now else None
    return Centre(
        shop_id=shop.id,
        customer_id=customer.id,
        shop_name=shop.name or shop.identifier,
        first_name=customer.first_name,
        rep_name=rep_name,
        email_on=email_on(customer.email_consent, customer.country_code, required_in),
        sms_on=_word(customer.sms_consent) in OPTED_IN,
        calls_on=not wants_no_calls(customer.call_consent),
        interests=interests,
        offered=offered_all,
        frequency=prefs.frequency if prefs is not None else "everything",
        paused_until=paused,
    )


def _checked(form: Mapping[str, Sequence[str]], name: str) -> bool:
    return "on" in form.get(name, ())


def save(
    session: Session, centre: Centre, form: Mapping[str, Sequence[str]], change: Change, now: dt.datetime
) -> list[str]:
    """Record what the submitted form changes; the changes in words (empty: nothing changed)."""
    done: list[str] = []
    everything_off = _checked(form, "unsubscribe_all")
    wanted = {
        "email": _checked(form, "email") and not everything_off,
        "sms": _checked(form, "sms") and not everything_off,
        "calls": _checked(form, "calls"),
    }
    shown = {"email": centre.email_on, "sms": centre.sms_on, "calls": centre.calls_on}
    names = {"email": "Emails", "sms": "Text messages", "calls": f"Calls from {centre.rep_name or 'your contact'}"}
    shop_id, customer_id = centre.shop_id, centre.customer_id
    for channel, on in wanted.items():
        if on != shown[channel]:
            record(session, shop_id, customer_id, channel, YES if on else NO, change, now=now)
            done.append(f"{names[channel]}: {'yes' if on else 'no'}")
    if not wanted["calls"] and shown["calls"]:
        on_call_consent(session, customer_id, now=now)
    offered = set(centre.offered)
    interests = sorted({value for value in form.get("interests", ()) if value in offered})
    if tuple(interests) != tuple(sorted(centre.interests)):
        record(session, shop_id, customer_id, "interests", json.dumps(interests), change, now=now)
        done.append("Interests: " + (", ".join(interests) if interests else "none"))
    frequency = (form.get("frequency") or [centre.frequency])[0]
    if frequency in dict(FREQUENCIES) and frequency != centre.frequency:
        record(session, shop_id, customer_id, "frequency", frequency, change, now=now)
        done.append(f"How often: {dict(FREQUENCIES)[frequency]}")
    pause = (form.get("pause") or ["keep"])[0]
    if pause in {str(days) for days in PAUSES}:
        until = now + dt.timedelta(days=int(pause))
        record(session, shop_id, customer_id, "pause", until.isoformat(), change, now=now)
        done.append(f"Paused for {pause} days, until {until:%d %B %Y}")
    elif pause == "none" and centre.paused_until is not None:
        record(session, shop_id, customer_id, "pause", None, change, now=now)
        done.append("Pause ended")
    return done
