"""The consent ledger: every change of consent or preference, appended; the current state derived from it.

Who (``actor``: customer, rep, merchant, platform, import), how (``method``: page, one_click, call, api,
webhook, import), what (``topic``, ``value`` and the ``previous`` value), when (``occurred_at``: the moment
it happened, a platform's own time for its inputs; ``recorded_at``: when we wrote it) and the version of
the wording the customer saw. Nothing updates or deletes a ledger row except redaction.

The state everyone reads is derived from the ledger on every append: the channels onto the customer's
consent columns (which check-ins, the profile and the send-time check read), the preferences onto
``customer_preferences``. :func:`derived_state` recomputes it from the rows alone.

Platform inputs (Shopify's consent topics, BigCommerce subscribers, customer payloads) are appended like
any other, but only when they are news: an input older than the latest entry for that topic, or equal to
the current state, changes nothing. And an input that is the echo of our own push (the platform telling us
back what we just wrote, :mod:`integration.messaging.pushback`) is consumed and not recorded, so it never
flips a newer change of the customer's back.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.db import dialect_insert, utcnow
from integration.customers.models import Customer, TimelineEntry
from integration.messaging.models import ConsentEntry, ConsentPush, CustomerPreferences

__all__ = [
    "CHANNELS",
    "PREFERENCE_TOPICS",
    "Change",
    "derived_state",
    "entries",
    "record",
]

CHANNELS = ("email", "sms", "calls")
PREFERENCE_TOPICS = ("interests", "frequency", "pause")
FREQUENCIES = ("everything", "monthly", "important")
_COLUMNS = {
    "email": (Customer.email_consent, Customer.email_consent_at),
    "sms": (Customer.sms_consent, Customer.sms_consent_at),
    "calls": (Customer.call_consent, Customer.call_consent_at),
}
_NAMES = {"email": "Email", "sms": "SMS", "calls": "Calls"}
OPT_OUT = "unsubscribed"
# How long after our push the platform's matching notice counts as its echo.
ECHO_WINDOW = dt.timedelta(days=2)


@dataclass(frozen=True)
class Change:
    """Who changed what, how; ``wording`` is the version of the words the customer saw (pages)."""

    actor: str
    method: str
    actor_ref: str | None = None
    wording: str | None = None


PLATFORM_WEBHOOK = Change("platform", "webhook")


def _current(session: Session, customer_id: int, topic: str) -> tuple[str | None, dt.datetime | None]:
    """The topic's value now and since when (the derived state, read from where it is kept)."""
    if topic in _COLUMNS:
        state, at = _COLUMNS[topic]
        row = session.execute(sa.select(state, at).where(Customer.id == customer_id)).one_or_none()
        return (row[0], row[1]) if row is not None else (None, None)
    prefs = session.get(CustomerPreferences, customer_id)
    latest = session.scalar(
        sa.select(sa.func.max(ConsentEntry.occurred_at)).where(
            ConsentEntry.customer_id == customer_id, ConsentEntry.topic == topic
        )
    )
    if prefs is None:
        return None, latest
    if topic == "interests":
        return prefs.interests, latest
    if topic == "frequency":
        return prefs.frequency, latest
    return (prefs.paused_until.isoformat() if prefs.paused_until else None), latest


def _is_echo(session: Session, customer_id: int, topic: str, value: str, occurred_at: dt.datetime) -> bool:
    push = session.scalars(
        sa.select(ConsentPush)
        .where(ConsentPush.customer_id == customer_id, ConsentPush.channel == topic, ConsentPush.state == "done")
        .order_by(ConsentPush.id.desc())
        .limit(1)
    ).first()
    if push is None or push.value != value or push.pushed_at is None:
        return False
    if not (push.created_at - dt.timedelta(minutes=1) <= occurred_at <= push.pushed_at + ECHO_WINDOW):
        return False
    push.state = "echoed"  # consumed: only the one notice is ours
    return True


def record(
    session: Session,
    shop_id: int,
    customer_id: int,
    topic: str,
    value: str | None,
    change: Change,
    *,
    occurred_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> ConsentEntry | None:
    """Append one change and derive the state from it; None when it changes nothing (no news, an echo)."""
    now = now or utcnow()
    occurred_at = occurred_at or now
    current, since = _current(session, customer_id, topic)
    if change.actor == "platform":
        if since is not None and occurred_at < since:
            return None  # older than what we hold
        if value is not None and _is_echo(session, customer_id, topic, value, occurred_at):
            return None
    if current == value:
        if change.actor == "platform" and topic in _COLUMNS and (since is None or occurred_at > since):
            clock = _COLUMNS[topic][1]
            session.execute(sa.update(Customer).where(Customer.id == customer_id).values({clock: occurred_at}))
        return None
    entry = ConsentEntry(
        shop_id=shop_id,
        customer_id=customer_id,
        topic=topic,
        value=value,
        previous=current,
        actor=change.actor,
        actor_ref=change.actor_ref,
        method=change.method,
        wording_version=change.wording,
        occurred_at=occurred_at,
        recorded_at=now,
    )
    session.add(entry)
    session.flush()
    _apply(session, shop_id, customer_id, topic, value, occurred_at, now)
    if topic in _COLUMNS:
        how = {"platform": "", "customer": " (by the customer)", "rep": " (told the rep)"}
        words = (value or "unknown").replace("_", " ")
        summary = f"{_NAMES[topic]} consent: {words}{how.get(change.actor, f' ({change.actor})')}"
        _timeline(session, customer_id, f"{topic}:{occurred_at.isoformat()}", occurred_at, summary)
        if change.actor != "platform" and topic == "email" and value == OPT_OUT:
            # Pushed to the platform by a job, so the merchant's other tools respect it too.
            session.add(ConsentPush(shop_id=shop_id, customer_id=customer_id, channel=topic, value=value))
    return entry


def _timeline(session: Session, customer_id: int, ref: str, at: dt.datetime, summary: str) -> None:
    session.execute(
        dialect_insert(session)(TimelineEntry)
        .values(customer_id=customer_id, kind="consent", ref=ref, at=at, summary=summary)
        .on_conflict_do_nothing()
    )


def _apply(
    session: Session, shop_id: int, customer_id: int, topic: str, value: str | None, at: dt.datetime, now: dt.datetime
) -> None:
    if topic in _COLUMNS:
        state, state_at = _COLUMNS[topic]
        session.execute(
            sa.update(Customer)
            .where(Customer.id == customer_id)
            .values({state: value, state_at: at, "updated_at": now})
        )
        return
    prefs = session.get(CustomerPreferences, customer_id)
    if prefs is None:
        prefs = CustomerPreferences(customer_id=customer_id, shop_id=shop_id, frequency="everything")
        session.add(prefs)
    if topic == "interests":
        prefs.interests = value
    elif topic == "frequency":
        prefs.frequency = value or "everything"
    elif topic == "pause":
        prefs.paused_until = dt.datetime.fromisoformat(value) if value else None
    prefs.updated_at = now
    session.flush()


def entries(session: Session, customer_id: int, *, limit: int = 200) -> list[ConsentEntry]:
    """A customer's ledger, newest first."""
    return list(
        session.scalars(
            sa.select(ConsentEntry)
            .where(ConsentEntry.customer_id == customer_id)
            .order_by(ConsentEntry.occurred_at.desc(), ConsentEntry.id.desc())
            .limit(limit)
        )
    )


def derived_state(session: Session, customer_id: int) -> dict[str, Any]:
    """Each topic's value per the ledger alone (the latest entry by when it happened); topics without an
    entry are absent."""
    state: dict[str, Any] = {}
    for entry in reversed(entries(session, customer_id, limit=100_000)):
        state[entry.topic] = entry.value
    if "interests" in state and state["interests"] is not None:
        state["interests"] = json.loads(state["interests"])
    return state


def preferences(session: Session, customer_id: int) -> dict[str, Any]:
    """The profile JSON's ``preferences``: interests, frequency, paused until (defaults without a row)."""
    prefs = session.get(CustomerPreferences, customer_id)
    if prefs is None:
        return {"interests": [], "frequency": "everything", "paused_until": None}
    return {
        "interests": json.loads(prefs.interests) if prefs.interests else [],
        "frequency": prefs.frequency,
        "paused_until": prefs.paused_until.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        if prefs.paused_until
        else None,
    }
