"""Books: every customer with a qualifying order gets one rep, kept across orders, and no book overflows.

Choosing: among the shop's active reps with room, the one whose working hours overlap the customer's
daytime (in the customer's zone) the most, then the smallest book, then the oldest rep. Taking a place in
a book is one statement, ``UPDATE reps SET book_size = book_size + 1 WHERE ... book_size < capacity``: the
database refuses a full book, so concurrent workers (on several machines) can never push one past its
capacity. The customer is then claimed with ``WHERE rep_id IS NULL`` in the same transaction; a customer
another worker assigned meanwhile is left alone and our place given back.

When every book is full the customer waits in the shop's pool (``pool_since``); :func:`fill_from_pool`
assigns the pool first whenever room appears, VIPs before others, then the longest waiting.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.db import rows_changed, utcnow
from integration.customers.models import Customer
from integration.customers.profiles import add_timeline
from integration.reps.checkins import follow_customer
from integration.reps.hours import WeeklyHours, parse_hours, zone
from integration.reps.models import Rep, RepState
from integration.reps.schedule import overlap_minutes

# When a customer is "awake": the hours a rep's working day should overlap, in the customer's own zone.
CUSTOMER_DAYTIME = parse_hours("Mon-Sun 09:00-21:00")
# Overlap is measured over one fixed week, so a rep's score for a zone is the same on every call (and
# cacheable); a week in January is as good as any for comparing reps.
REFERENCE_WEEK = dt.datetime(2027, 1, 4, tzinfo=dt.UTC)  # a Monday


@dataclass(frozen=True)
class Candidate:
    rep_id: int
    name: str
    email: str
    overlap: int
    book_size: int


@functools.lru_cache(maxsize=65536)
def _overlap(hours_json: str, rep_zone: str, customer_zone: str) -> int:
    # Keyed on the rep's hours text, not its id: an edit to the hours is a new key.
    return overlap_minutes(
        WeeklyHours.from_json(hours_json), zone(rep_zone), zone(customer_zone), CUSTOMER_DAYTIME, REFERENCE_WEEK
    )


def candidates(session: Session, shop_id: int, customer_zone: str | None) -> list[Candidate]:
    """The shop's active reps with room, best first."""
    rows = session.execute(
        sa.select(Rep.id, Rep.name, Rep.email, Rep.working_hours, Rep.time_zone, Rep.book_size).where(
            Rep.shop_id == shop_id, Rep.state != RepState.LEFT, Rep.book_size < Rep.capacity
        )
    ).all()
    ranked = [
        Candidate(rep_id, name, email, _overlap(hours, rep_zone, customer_zone or "UTC"), book_size)
        for rep_id, name, email, hours, rep_zone, book_size in rows
    ]
    ranked.sort(key=lambda c: (-c.overlap, c.book_size, c.rep_id))
    return ranked


_WITH_ROOM = (Rep.state != RepState.LEFT, Rep.book_size < Rep.capacity)


def best_candidate(
    session: Session, shop_id: int, customer_zone: str | None, passed: frozenset[int] = frozenset()
) -> tuple[int, str] | None:
    """The first of :func:`candidates` (the same order), without reading every rep: (id, name), or None.

    A rep's overlap with the customer's day depends only on their hours and zone, which a roster of
    hundreds shares among a few dozen shifts; so the database groups the reps with room by shift, the
    best-overlapping shifts are picked here, and one more query takes the smallest book among them
    (then the oldest rep). ``passed``: reps already tried (full meanwhile).
    """
    mine = (Rep.shop_id == shop_id, *_WITH_ROOM, *((Rep.id.not_in(passed),) if passed else ()))
    shifts = session.execute(
        sa.select(Rep.working_hours, Rep.time_zone).where(*mine).group_by(Rep.working_hours, Rep.time_zone)
    ).all()
    if not shifts:
        return None
    scored = [(_overlap(hours, rep_zone, customer_zone or "UTC"), hours, rep_zone) for hours, rep_zone in shifts]
    top = max(score for score, _hours, _zone in scored)
    best = [
        sa.and_(Rep.working_hours == hours, Rep.time_zone == rep_zone)
        for score, hours, rep_zone in scored
        if score == top
    ]
    found = session.execute(
        sa.select(Rep.id, Rep.name).where(*mine, sa.or_(*best)).order_by(Rep.book_size, Rep.id).limit(1)
    ).one_or_none()
    return (int(found.id), str(found.name)) if found is not None else None


def _take_place(session: Session, rep_id: int) -> bool:
    taken = session.execute(
        sa.update(Rep)
        .where(Rep.id == rep_id, Rep.state != RepState.LEFT, Rep.book_size < Rep.capacity)
        .values(book_size=Rep.book_size + 1)
    )
    return bool(rows_changed(taken))


def _give_back(session: Session, rep_id: int) -> None:
    session.execute(sa.update(Rep).where(Rep.id == rep_id, Rep.book_size > 0).values(book_size=Rep.book_size - 1))


def assign(session: Session, customer_id: int, *, now: dt.datetime | None = None) -> int | None:
    """Give the customer a rep if they have none; returns their rep's id (None: they wait in the pool).

    Away reps keep taking customers (their due calls go to their backup); only left reps never do.
    """
    now = now or utcnow()
    row = session.execute(
        sa.select(Customer.shop_id, Customer.rep_id, Customer.time_zone, Customer.deleted_at).where(
            Customer.id == customer_id
        )
    ).one_or_none()
    if row is None or row.deleted_at is not None:
        return None
    if row.rep_id is not None:
        return int(row.rep_id)
    passed: frozenset[int] = frozenset()
    while (candidate := best_candidate(session, row.shop_id, row.time_zone, passed)) is not None:
        rep_id, name = candidate
        if not _take_place(session, rep_id):
            passed |= {rep_id}  # filled up meanwhile by another worker: the next best
            continue
        claimed = session.execute(
            sa.update(Customer)
            .where(Customer.id == customer_id, Customer.rep_id.is_(None))
            .values(rep_id=rep_id, rep_assigned_at=now, pool_since=None)
        )
        if not rows_changed(claimed):  # another worker assigned this customer first
            _give_back(session, rep_id)
            return session.scalar(sa.select(Customer.rep_id).where(Customer.id == customer_id))
        add_timeline(session, customer_id, "rep_assigned", f"rep-{rep_id}", now, f"Your contact is {name}")
        # Open check-ins go with the book (a customer out of the pool, or handed over by a leaver), into
        # the new rep's hours.
        follow_customer(session, row.shop_id, customer_id, rep_id, now=now)
        return rep_id
    session.execute(
        sa.update(Customer)
        .where(Customer.id == customer_id, Customer.rep_id.is_(None), Customer.pool_since.is_(None))
        .values(pool_since=now)
    )
    return None


def pool_size(session: Session, shop_id: int) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count()).where(
                Customer.shop_id == shop_id, Customer.rep_id.is_(None), Customer.pool_since.is_not(None)
            )
        )
        or 0
    )


def fill_from_pool(session: Session, shop_id: int, *, limit: int = 1000) -> int:
    """Assign waiting customers while there is room: VIPs first, then the longest waiting. Returns how
    many were assigned."""
    waiting = session.scalars(
        sa.select(Customer.id)
        .where(Customer.shop_id == shop_id, Customer.rep_id.is_(None), Customer.pool_since.is_not(None))
        .order_by((Customer.segment == "vip").desc(), Customer.pool_since, Customer.id)
        .limit(limit)
    ).all()
    assigned = 0
    for customer_id in waiting:
        if assign(session, customer_id) is None:
            break  # every book is full again
        assigned += 1
    return assigned


def release(session: Session, customer_ids: Sequence[int]) -> None:
    """Take customers out of their books (redaction, deletion): their places become room for the pool."""
    for customer_id in customer_ids:
        rep_id = session.scalar(sa.select(Customer.rep_id).where(Customer.id == customer_id))
        if rep_id is None:
            continue
        cleared = session.execute(
            sa.update(Customer).where(Customer.id == customer_id, Customer.rep_id == rep_id).values(rep_id=None)
        )
        if rows_changed(cleared):
            _give_back(session, rep_id)
