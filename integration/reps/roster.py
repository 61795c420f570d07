"""The roster: adding reps, sending them away with a backup, and handing a leaver's book over.

Used by the ``reps`` commands and the merchant's roster page alike, so both refuse the same input with
the same words.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.db import utcnow
from integration.customers.models import Customer
from integration.customers.profiles import add_timeline
from integration.reps.books import assign, fill_from_pool
from integration.reps.checkins import follow_customer, reslot_book
from integration.reps.hours import parse_hours, zone
from integration.reps.models import DUNBAR, Rep, RepState
from integration.shops.models import StaffRole, StaffUser

DEFAULT_HOURS = "Mon-Fri 09:00-17:00"
# Not a full RFC 5322 check: enough to refuse what cannot be a mailbox, and to keep the form honest.
EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")


class RosterError(ValueError):
    """Input the roster refuses, in words a merchant can act on."""


@dataclass(frozen=True)
class RepInput:
    name: str
    email: str
    time_zone: str
    capacity: int = DUNBAR
    hours: str = DEFAULT_HOURS
    phone: str | None = None
    capacity_override: bool = False


def validate(data: RepInput) -> dict[str, Any]:
    """The column values for ``data``, or RosterError naming what is wrong."""
    name = data.name.strip()
    if not name or len(name) > 255:
        raise RosterError("a rep needs a name (at most 255 characters)")
    email = data.email.strip().lower()
    if not EMAIL_RE.fullmatch(email) or len(email) > 320:
        raise RosterError("that is not an email address")
    try:
        ZoneInfo(data.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise RosterError("unknown time zone: use an IANA name such as Europe/London") from None
    if data.capacity < 1:
        raise RosterError("capacity must be at least 1")
    if data.capacity > DUNBAR and not data.capacity_override:
        raise RosterError(f"capacity above {DUNBAR} needs the override: a book that large stops being personal")
    try:
        hours = parse_hours(data.hours)
    except ValueError as exc:
        raise RosterError(f"working hours: {exc}") from None
    return {
        "name": name,
        "email": email,
        "time_zone": data.time_zone,
        "capacity": data.capacity,
        "capacity_override": data.capacity_override and data.capacity > DUNBAR,
        "working_hours": hours.to_json(),
        "phone": (data.phone or "").strip() or None,
    }


def find_rep(session: Session, shop_id: int, email: str) -> Rep | None:
    return session.scalar(sa.select(Rep).where(Rep.shop_id == shop_id, Rep.email == email.strip().lower()))


def add_rep(session: Session, shop_id: int, data: RepInput, *, staff_user_id: int | None = None) -> Rep:
    """Put a rep on the roster (or bring one who left back); the pool is assigned first when room appears.

    The rep is linked to the shop's staff member ``staff_user_id``, else to the one with the same email, who
    is then a rep on the settings page's staff list as well."""
    values = validate(data)
    rep = find_rep(session, shop_id, values["email"])
    if rep is not None and rep.state != RepState.LEFT:
        raise RosterError(f"{values['email']} is already on the roster")
    staff_id = staff_user_id or session.scalar(
        sa.select(StaffUser.id).where(StaffUser.shop_id == shop_id, sa.func.lower(StaffUser.email) == values["email"])
    )
    if rep is None:
        rep = Rep(shop_id=shop_id, **values)
        session.add(rep)
    else:
        for key, value in values.items():
            setattr(rep, key, value)
        rep.state, rep.left_at, rep.book_size = RepState.ACTIVE, None, 0
    rep.staff_user_id = staff_id
    if staff_id is not None:  # the settings page's staff list shows them on the roster too
        session.execute(
            sa.update(StaffUser)
            .where(StaffUser.id == staff_id, StaffUser.role == StaffRole.STAFF)
            .values(role=StaffRole.REP.value)
        )
    session.flush()
    fill_from_pool(session, shop_id)
    return rep


def update_rep(session: Session, rep: Rep, data: RepInput) -> Rep:
    values = validate(data)
    if values["email"] != rep.email and find_rep(session, rep.shop_id, values["email"]) is not None:
        raise RosterError(f"{values['email']} is already on the roster")
    if values["capacity"] < rep.book_size:
        raise RosterError(f"{rep.name} holds {rep.book_size} customers: capacity cannot go below that")
    for key, value in values.items():
        setattr(rep, key, value)
    session.flush()
    fill_from_pool(session, rep.shop_id)
    return rep


def send_away(session: Session, rep: Rep, until: dt.date, backup: Rep, *, today: dt.date | None = None) -> None:
    """Due calls of ``rep`` go to ``backup`` until (and including) ``until``; the book stays."""
    today = today or utcnow().date()
    if backup.id == rep.id or backup.shop_id != rep.shop_id:
        raise RosterError("the backup must be another rep of the same shop")
    if backup.state != RepState.ACTIVE:
        raise RosterError(f"{backup.email} is not active: choose a backup who is")
    if until < today:
        raise RosterError("the away date is in the past")
    rep.state, rep.away_from, rep.away_until, rep.backup_rep_id = RepState.AWAY, today, until, backup.id
    session.flush()
    reslot_book(session, rep.id)  # calls in the away dates move into the backup's hours


def come_back(session: Session, rep: Rep) -> None:
    rep.state, rep.away_from, rep.away_until, rep.backup_rep_id = RepState.ACTIVE, None, None, None
    session.flush()
    reslot_book(session, rep.id)


def return_due_reps(session: Session, *, now: dt.datetime | None = None) -> list[int]:
    """Reps whose away dates are over, on their own clock, are active again (the periodic job); their
    calls are placed again as :func:`come_back` places them. Returns their ids.

    "Over" is the rep's own date: ``away_until`` is the last day away in the rep's zone (as
    :func:`integration.reps.checkins.away_on` reads it), so a rep in Los Angeles is not back at UTC
    midnight, eight hours before their day ends.
    """
    now = now or utcnow()
    away = session.scalars(
        sa.select(Rep).where(Rep.state == RepState.AWAY, Rep.away_until.is_not(None)).order_by(Rep.id)
    ).all()
    back = []
    for rep in away:
        assert rep.away_until is not None
        if now.astimezone(zone(rep.time_zone)).date() > rep.away_until:
            come_back(session, rep)
            back.append(rep.id)
    return back


def leave(session: Session, rep: Rep) -> None:
    """Mark the rep as left; their book is handed over by :func:`hand_over` (a job, queued by the caller
    once this commits). On the settings page's staff list the same person is staff again."""
    rep.state, rep.left_at = RepState.LEFT, utcnow()
    # Nobody keeps a leaver as their backup.
    session.execute(sa.update(Rep).where(Rep.backup_rep_id == rep.id).values(backup_rep_id=None))
    same_person = sa.func.lower(StaffUser.email) == rep.email
    if rep.staff_user_id is not None:
        same_person = sa.or_(StaffUser.id == rep.staff_user_id, same_person)
    session.execute(
        sa.update(StaffUser)
        .where(StaffUser.shop_id == rep.shop_id, StaffUser.role == StaffRole.REP, same_person)
        .values(role=StaffRole.STAFF.value)
    )


def hand_over(session: Session, rep_id: int, *, now: dt.datetime | None = None) -> tuple[int, int]:
    """Give each customer of a rep who left a new rep by the usual rules; each timeline says who.

    Returns (customers reassigned, customers left waiting in the pool because every book was full).
    """
    now = now or utcnow()
    shop_id = session.scalar(sa.select(Rep.shop_id).where(Rep.id == rep_id))
    if shop_id is None:
        return 0, 0
    customers = session.scalars(
        sa.select(Customer.id)
        .where(Customer.rep_id == rep_id)
        .order_by((Customer.segment == "vip").desc(), Customer.rep_assigned_at, Customer.id)
    ).all()
    moved = waiting = 0
    for customer_id in customers:
        session.execute(sa.update(Customer).where(Customer.id == customer_id).values(rep_id=None, rep_assigned_at=None))
        session.execute(sa.update(Rep).where(Rep.id == rep_id, Rep.book_size > 0).values(book_size=Rep.book_size - 1))
        new_rep = assign(session, customer_id, now=now)
        if new_rep is None:
            # Every book is full: the customer waits in the pool, and so do their open calls (in the
            # customer's window alone) until the pool is assigned, when they follow them to the new rep.
            follow_customer(session, shop_id, customer_id, None, now=now)
            waiting += 1
            continue
        name = session.scalar(sa.select(Rep.name).where(Rep.id == new_rep))
        add_timeline(
            session, customer_id, "rep_handover", f"rep-{rep_id}-{new_rep}", now, f"Your new contact is {name}"
        )
        moved += 1
    return moved, waiting


def list_reps(session: Session, shop_id: int) -> list[Rep]:
    order = sa.case({RepState.ACTIVE: 0, RepState.AWAY: 1}, value=Rep.state, else_=2)
    return list(session.scalars(sa.select(Rep).where(Rep.shop_id == shop_id).order_by(order, Rep.name, Rep.id)))
