"""One customer, as a rep needs them before a call (and as the merchant sees them): who, where, their
local time, orders and deliveries, past calls, the timeline and consent. Nine queries, whatever the
customer's history (orders and calls are the latest few, the timeline is paged)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.customers.models import Customer, Order, TimelineEntry
from integration.reps.cards import OUTCOME_LABELS, CustomerCard, OrderCard, load_orders, local
from integration.reps.models import OPEN_CHECKIN, CheckIn, CheckInAttempt, Rep, RepState
from integration.reps.pages import Page
from integration.shops.models import Shop

ORDERS_SHOWN = 20
CALLS_SHOWN = 20
TIMELINE_PAGE = 50


@dataclass(frozen=True)
class Call:
    at: str
    outcome: str
    rep: str | None
    notes: str | None
    recommend: int | None
    improve: str | None
    do_not_call: bool


@dataclass(frozen=True)
class OpenTask:
    id: int
    when: str
    rep_id: int | None
    rep: str | None
    kind: str
    note: str | None


@dataclass(frozen=True)
class Fact:
    at: str
    kind: str
    summary: str


@dataclass(frozen=True)
class CustomerDetail:
    card: CustomerCard
    orders: list[OrderCard]
    orders_total: int
    calls: list[Call]
    tasks: list[OpenTask]
    timeline: list[Fact]
    timeline_page: Page


def visible_to_rep(rep_id: int) -> sa.ColumnElement[bool]:
    """A rep sees the customers of their book, and, as the backup of an away rep, that rep's customers
    with a call open (the backup works those due in the away dates)."""
    covered = sa.select(Rep.id).where(Rep.backup_rep_id == rep_id, Rep.state == RepState.AWAY)
    theirs = (
        sa.select(CheckIn.id)
        .where(CheckIn.customer_id == Customer.id, CheckIn.rep_id.in_(covered), CheckIn.status.in_(OPEN_CHECKIN))
        .exists()
    )
    return sa.or_(Customer.rep_id == rep_id, theirs)


def customer_detail(
    db: Session, shop: Shop, customer_id: int, timeline_page: int, *, rep_id: int | None = None, zone: str | None = None
) -> CustomerDetail | None:
    """The customer's page, or None when they are not this shop's (or, for a rep, not theirs). Times are
    shown in ``zone`` (the reader's: a rep's own, else the shop's)."""
    query = (
        sa.select(Customer, Rep.name)
        .outerjoin(Rep, Rep.id == Customer.rep_id)
        .where(Customer.id == customer_id, Customer.shop_id == shop.id, Customer.deleted_at.is_(None))
    )
    if rep_id is not None:
        query = query.where(visible_to_rep(rep_id))
    row = db.execute(query).one_or_none()
    if row is None:
        return None
    customer, rep_name = row
    zone = zone or shop.time_zone
    card = CustomerCard.of(customer, shop.time_zone, rep_name)

    latest = db.execute(
        sa.select(Order.id, sa.func.count().over().label("total"))
        .where(Order.shop_id == shop.id, Order.customer_id == customer.id)
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(ORDERS_SHOWN)
    ).all()
    cards = load_orders(db, [o.id for o in latest], zone)  # three queries
    orders = [cards[o.id] for o in latest if o.id in cards]

    calls = [
        Call(
            at=local(a.at, zone),
            outcome=OUTCOME_LABELS.get(a.outcome, a.outcome),
            rep=name,
            notes=a.notes,
            recommend=a.recommend,
            improve=a.improve,
            do_not_call=a.do_not_call,
        )
        for a, name in db.execute(
            sa.select(CheckInAttempt, Rep.name)
            .join(CheckIn, CheckIn.id == CheckInAttempt.checkin_id)
            .outerjoin(Rep, Rep.id == CheckInAttempt.rep_id)
            .where(CheckIn.customer_id == customer.id)
            .order_by(CheckInAttempt.at.desc(), CheckInAttempt.id.desc())
            .limit(CALLS_SHOWN)
        ).all()
    ]
    tasks = [
        OpenTask(c.id, local(c.due_at, zone), c.rep_id, name, c.kind, c.note)
        for c, name in db.execute(
            sa.select(CheckIn, Rep.name)
            .outerjoin(Rep, Rep.id == CheckIn.rep_id)
            .where(CheckIn.customer_id == customer.id, CheckIn.status.in_(OPEN_CHECKIN))
            .order_by(CheckIn.due_at, CheckIn.id)
        ).all()
    ]

    total = int(
        db.scalar(sa.select(sa.func.count()).select_from(TimelineEntry).where(TimelineEntry.customer_id == customer.id))
        or 0
    )
    page = Page(1, TIMELINE_PAGE, total)
    page = Page(min(timeline_page, page.pages), TIMELINE_PAGE, total)
    facts = db.execute(
        sa.select(TimelineEntry.at, TimelineEntry.kind, TimelineEntry.summary)
        .where(TimelineEntry.customer_id == customer.id)
        .order_by(TimelineEntry.at.desc(), TimelineEntry.id.desc())
        .offset(page.offset)
        .limit(TIMELINE_PAGE)
    ).all()
    return CustomerDetail(
        card=card,
        orders=orders,
        orders_total=latest[0].total if latest else 0,
        calls=calls,
        tasks=tasks,
        timeline=[Fact(local(f.at, zone), f.kind.replace("_", " "), f.summary) for f in facts],
        timeline_page=page,
    )
