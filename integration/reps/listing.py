"""Reading check-ins: who works each one, when in the customer's and the rep's own time, about which orders.

A fixed number of queries however many tasks: the tasks with their customers, the shop's reps (for the
book owner and any backup), and the orders of all listed tasks at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.customers.models import Customer, Order
from integration.reps.checkins import rules_for, works_it
from integration.reps.hours import zone
from integration.reps.models import OPEN_CHECKIN, CheckIn, CheckInOrder, Rep


@dataclass(frozen=True)
class CheckInView:
    id: int
    kind: str
    status: str
    due_at: dt.datetime
    outside_window: bool
    attempts: int
    delivered_at: dt.datetime | None
    note: str | None
    customer_id: int
    customer_email: str | None
    customer_name: str | None
    customer_zone: str
    owner: Rep | None  # whose book the customer is in
    worker: Rep | None  # who calls: the owner, or their backup in the owner's away dates
    orders: tuple[str, ...]

    @property
    def customer_local_due(self) -> dt.datetime:
        return self.due_at.astimezone(zone(self.customer_zone))

    @property
    def rep_local_due(self) -> dt.datetime | None:
        return self.due_at.astimezone(zone(self.worker.time_zone)) if self.worker is not None else None


def iso_utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def view_json(view: CheckInView) -> dict[str, Any]:
    """The object ``checkins list --json`` prints for one task."""
    rep_local = view.rep_local_due
    return {
        "id": view.id,
        "kind": view.kind,
        "customer_email": view.customer_email,
        "rep_email": view.worker.email if view.worker is not None else None,
        "book_rep_email": view.owner.email if view.owner is not None else None,
        "due_at": iso_utc(view.due_at),
        "customer_local_due": view.customer_local_due.isoformat(),
        "rep_local_due": rep_local.isoformat() if rep_local is not None else None,
        "status": view.status,
        "outside_window": view.outside_window,
        "attempts": view.attempts,
        "orders": list(view.orders),
    }


def list_checkins(
    session: Session,
    shop_id: int,
    *,
    rep_id: int | None = None,
    due_before: dt.datetime | None = None,
    statuses: Sequence[str] = OPEN_CHECKIN,
    customer_id: int | None = None,
    limit: int | None = None,
) -> list[CheckInView]:
    """The shop's tasks in ``statuses`` (open ones by default), soonest first. ``rep_id``: the tasks that
    rep works (their own, and those they cover for an away rep)."""
    reps = {rep.id: rep for rep in session.scalars(sa.select(Rep).where(Rep.shop_id == shop_id))}
    query = (
        sa.select(CheckIn, Customer.email, Customer.first_name, Customer.last_name, Customer.time_zone)
        .join(Customer, Customer.id == CheckIn.customer_id)
        .where(CheckIn.shop_id == shop_id, CheckIn.status.in_(list(statuses)))
        .order_by(CheckIn.due_at, CheckIn.id)
    )
    if due_before is not None:
        query = query.where(CheckIn.due_at < due_before)
    if customer_id is not None:
        query = query.where(CheckIn.customer_id == customer_id)
    if rep_id is not None:
        covered = [r.id for r in reps.values() if r.backup_rep_id == rep_id]
        query = query.where(CheckIn.rep_id.in_([rep_id, *covered]))
    shop_zone = rules_for(session, shop_id).shop_zone
    views = []
    for checkin, email, first, last, customer_zone in session.execute(query):
        owner = reps.get(checkin.rep_id) if checkin.rep_id is not None else None
        worker = works_it(owner, reps, checkin.due_at)
        if rep_id is not None and (worker is None or worker.id != rep_id):
            continue
        name = " ".join(part for part in (first, last) if part) or None
        views.append(
            CheckInView(
                checkin.id,
                checkin.kind,
                checkin.status,
                checkin.due_at,
                checkin.outside_window,
                checkin.attempts,
                checkin.delivered_at,
                checkin.note,
                checkin.customer_id,
                email,
                name,
                customer_zone or shop_zone or "UTC",
                owner,
                worker,
                (),
            )
        )
        if limit is not None and len(views) >= limit:
            break
    names = order_names(session, [v.id for v in views])
    return [replace(v, orders=names.get(v.id, ())) for v in views]


def order_names(session: Session, checkin_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """Each task's orders, by name (the platform's id where the order has no name)."""
    ids = list(checkin_ids)
    found: dict[int, list[str]] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            sa.select(CheckInOrder.checkin_id, Order.name, Order.platform_order_id)
            .join(Order, Order.id == CheckInOrder.order_id)
            .where(CheckInOrder.checkin_id.in_(ids[start : start + 500]))
            .order_by(CheckInOrder.checkin_id, Order.placed_at, Order.id)
        )
        for checkin_id, name, platform_id in rows:
            found.setdefault(checkin_id, []).append(name or platform_id)
    return {key: tuple(value) for key, value in found.items()}
