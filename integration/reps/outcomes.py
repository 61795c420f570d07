"""A call made: its outcome, what the customer said, and what happens to the task next.

* reached / declined / wrong number: the task is done.
* voicemail / no answer: the task moves to the next slot (from a day later, inside both windows); the third
  such attempt closes it as ``unreachable``.
* declined, or "asked not to be called again": the customer's calls consent becomes ``unsubscribed`` and
  every open task of theirs is cancelled.
* a follow-up date: a ``follow_up`` task on that date, in the first slot of the customer's window.

Every outcome is a fact on the customer's timeline.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.db import utcnow
from integration.customers.models import Customer
from integration.customers.profiles import add_timeline
from integration.messaging.ledger import Change, record
from integration.reps.checkins import FOLLOW_UP, cancel_open, close, reschedule, rules_for, slot_for
from integration.reps.hours import zone
from integration.reps.models import OPEN_CHECKIN, CheckIn, CheckInAttempt, CheckInStatus, Rep
from integration.reps.timers import plan

OUTCOMES = ("reached", "voicemail", "no_answer", "wrong_number", "declined")
NO_CONTACT = frozenset({"voicemail", "no_answer"})
MAX_ATTEMPTS = 3
# After a voicemail or no answer, try again from this much later (the same hour on the next calling day).
RETRY_AFTER = dt.timedelta(days=1)
OPTED_OUT = "unsubscribed"
_WORDS = {
    "reached": "reached",
    "voicemail": "left a voicemail",
    "no_answer": "no answer",
    "wrong_number": "wrong number",
    "declined": "declined the call",
}


class OutcomeError(ValueError):
    """An outcome that cannot be recorded (closed task, unknown outcome, score out of range)."""


@dataclass(frozen=True)
class Recorded:
    attempt_id: int
    status: str  # the task's status afterwards
    due_at: dt.datetime | None  # its new time when it was moved
    follow_up_id: int | None


def record_outcome(
    session: Session,
    checkin_id: int,
    rep_id: int | None,
    outcome: str,
    notes: str | None = None,
    recommend: int | None = None,
    improve: str | None = None,
    improve_product_id: str | None = None,
    follow_up_at: dt.date | dt.datetime | None = None,
    follow_up_note: str | None = None,
    do_not_call: bool = False,
    *,
    now: dt.datetime | None = None,
) -> Recorded:
    now = now or utcnow()
    if outcome not in OUTCOMES:
        raise OutcomeError(f"unknown outcome {outcome!r}: one of {', '.join(OUTCOMES)}")
    if recommend is not None and not 0 <= recommend <= 10:
        raise OutcomeError("how likely to recommend is a score from 0 to 10")
    if isinstance(follow_up_at, dt.datetime) and follow_up_at.tzinfo is None:
        raise OutcomeError("a follow-up time needs its time zone")
    checkin = session.scalar(sa.select(CheckIn).where(CheckIn.id == checkin_id).with_for_update())
    if checkin is None:
        raise OutcomeError(f"no check-in {checkin_id}")
    if checkin.status not in OPEN_CHECKIN:
        raise OutcomeError(f"check-in {checkin_id} is {checkin.status}: nothing more to record")
    attempt = CheckInAttempt(
        checkin_id=checkin.id,
        rep_id=rep_id,
        at=now,
        outcome=outcome,
        notes=_text(notes),
        recommend=recommend,
        improve=_text(improve),
        improve_product_id=_text(improve_product_id),
        do_not_call=do_not_call,
    )
    session.add(attempt)
    checkin.attempts += 1
    no_calls = do_not_call or outcome == "declined"
    if outcome in NO_CONTACT and not no_calls:
        _try_again_later(session, checkin, now)
    else:
        close(session, checkin, CheckInStatus.DONE, outcome, now=now)
    session.flush()
    _on_timeline(session, checkin, attempt, rep_id)
    follow_up_id = None
    if no_calls:
        _opt_out(session, checkin.customer_id, rep_id, now)
    elif follow_up_at is not None:
        follow_up_id = add_follow_up(session, checkin, follow_up_at, follow_up_note, now=now)
    moved = checkin.due_at if checkin.status == CheckInStatus.SCHEDULED else None
    return Recorded(attempt.id, checkin.status, moved, follow_up_id)


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _try_again_later(session: Session, checkin: CheckIn, now: dt.datetime) -> None:
    if checkin.attempts >= MAX_ATTEMPTS:
        close(session, checkin, CheckInStatus.UNREACHABLE, f"no answer after {checkin.attempts} attempts", now=now)
        return
    customer_zone = session.scalar(sa.select(Customer.time_zone).where(Customer.id == checkin.customer_id))
    rules = rules_for(session, checkin.shop_id)
    reschedule(session, checkin, slot_for(session, rules, customer_zone, checkin.rep_id, now + RETRY_AFTER), now=now)


def _on_timeline(session: Session, checkin: CheckIn, attempt: CheckInAttempt, rep_id: int | None) -> None:
    who = session.scalar(sa.select(Rep.name).where(Rep.id == rep_id)) if rep_id is not None else None
    parts = [f"Check-in call{f' by {who}' if who else ''}: {_WORDS[attempt.outcome]}"]
    if attempt.recommend is not None:
        parts.append(f"would recommend {attempt.recommend}/10")
    if attempt.improve:
        parts.append(f"improve: {attempt.improve}")
    if attempt.notes:
        parts.append(f"notes: {attempt.notes}")
    if attempt.do_not_call:
        parts.append("asked not to be called again")
    if checkin.status == CheckInStatus.UNREACHABLE:
        parts.append(f"unreachable after {checkin.attempts} attempts")
    add_timeline(session, checkin.customer_id, "call", f"attempt-{attempt.id}", attempt.at, "; ".join(parts))


def _opt_out(session: Session, customer_id: int, rep_id: int | None, now: dt.datetime) -> None:
    """The customer told the rep: no more calls. The consent ledger records it (their calls consent says so
    from now, with a timeline fact), and nothing stays open."""
    shop_id = session.scalar(sa.select(Customer.shop_id).where(Customer.id == customer_id))
    if shop_id is not None:
        who = Change("rep", "call", actor_ref=f"rep:{rep_id}" if rep_id is not None else None)
        record(session, shop_id, customer_id, "calls", OPTED_OUT, who, occurred_at=now, now=now)
    cancel_open(session, customer_id, "customer does not want calls", now=now)


def add_follow_up(
    session: Session, checkin: CheckIn, when: dt.date | dt.datetime, note: str | None, *, now: dt.datetime
) -> int:
    """A follow-up call on ``when`` (a date: its first slot in the customer's window; a moment: from then)."""
    customer = session.execute(
        sa.select(Customer.rep_id, Customer.time_zone).where(Customer.id == checkin.customer_id)
    ).one()
    rules = rules_for(session, checkin.shop_id)
    if isinstance(when, dt.datetime):
        earliest = when
    else:
        local = zone(customer.time_zone or rules.shop_zone)
        earliest = dt.datetime.combine(when, dt.time(0, 0), local).astimezone(dt.UTC)
    rep_id = customer.rep_id if customer.rep_id is not None else checkin.rep_id
    slot = slot_for(session, rules, customer.time_zone, rep_id, max(earliest, now))
    follow_up = CheckIn(
        shop_id=checkin.shop_id,
        customer_id=checkin.customer_id,
        rep_id=rep_id,
        kind=FOLLOW_UP,
        status=CheckInStatus.SCHEDULED,
        due_at=slot.due_at,
        outside_window=slot.outside_window,
        note=_text(note),
        created_at=now,
        updated_at=now,
    )
    session.add(follow_up)
    session.flush()
    plan(session, follow_up.id, slot.due_at)
    return follow_up.id
