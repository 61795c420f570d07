"""The workspace's and the merchant's lists: Today's calls, one check-in, a book or the whole shop.

Each function reads a fixed number of statements, whatever the number of rows, and is scoped by the
caller's shop (and, for a rep, by their own book and tasks): a row of another shop is simply not found.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.db import utcnow
from integration.customers.models import Customer, Order
from integration.reps.cards import (
    CustomerCard,
    LastCall,
    OrderCard,
    checkin_orders,
    last_calls,
    load_orders,
    local,
    zone_of,
)
from integration.reps.checkins import works_it
from integration.reps.models import OPEN_CHECKIN, CheckIn, CheckInAttempt, CheckInSettings, CheckInStatus, Rep
from integration.reps.pages import PAGE_SIZE, Page
from integration.shops.models import Shop

DEFAULT_SCRIPT = (
    "Is it living up to your expectations?",
    "Any questions?",
    "What would you improve?",
    "Would you recommend us?",
)
TODAY_LIMIT = 1000  # a safety net: a book holds at most 150 customers, each with one open call or so
SEARCH_MAX = 100


def end_of_local_day(now: dt.datetime, zone: str) -> dt.datetime:
    """The first moment of tomorrow in ``zone``, in UTC."""
    here = now.astimezone(zone_of(zone))
    tomorrow = dt.datetime.combine(here.date() + dt.timedelta(days=1), dt.time(), tzinfo=here.tzinfo)
    return tomorrow.astimezone(dt.UTC)


def start_of_local_day(now: dt.datetime, zone: str) -> dt.datetime:
    here = now.astimezone(zone_of(zone))
    return dt.datetime.combine(here.date(), dt.time(), tzinfo=here.tzinfo).astimezone(dt.UTC)


@dataclass
class Task:
    id: int
    kind: str
    status: str
    when: str  # "Overdue since …", "Due now", "Due at …" (in the rep's zone)
    overdue: bool
    due_customer: str  # the due time in the customer's zone
    outside_window: bool
    attempts: int
    note: str | None
    customer: CustomerCard
    orders: list[OrderCard] = field(default_factory=list)
    last_call: LastCall | None = None


def _when(due_at: dt.datetime, now: dt.datetime, rep_zone: str) -> tuple[str, bool]:
    if due_at < start_of_local_day(now, rep_zone):
        return f"Overdue since {local(due_at, rep_zone)}", True
    if due_at <= now:
        return f"Due since {local(due_at, rep_zone, with_day=False)}", False
    return f"Due at {local(due_at, rep_zone, with_day=False)}", False


def shop_roster(db: Session, shop_id: int) -> dict[int, Rep]:
    """The shop's reps by id (one query): who works a task depends on its owner's away dates and backup."""
    return {r.id: r for r in db.scalars(sa.select(Rep).where(Rep.shop_id == shop_id))}


def whose(reps: dict[int, Rep], rep_id: int) -> list[int]:
    """The reps whose tasks ``rep_id`` may work: their own, and those of the reps they are the backup of."""
    return [rep_id, *(r.id for r in reps.values() if r.backup_rep_id == rep_id)]


def works(reps: dict[int, Rep], checkin: CheckIn, rep_id: int) -> bool:
    """Whether ``rep_id`` calls for this task: their own, unless they are away then; or an away rep's
    whose backup they are (``checkins.works_it``)."""
    owner = reps.get(checkin.rep_id) if checkin.rep_id is not None else None
    worker = works_it(owner, reps, checkin.due_at)
    return worker is not None and worker.id == rep_id


def due_today(db: Session, rep: Rep, shop: Shop, *, now: dt.datetime | None = None) -> list[Task]:
    """The calls the rep works that are due or overdue: open tasks due before the end of the rep's own
    day (or marked due), their own and those of reps they cover for, the customers furthest into their
    own day first (their calling day ends soonest)."""
    now = now or utcnow()
    reps = shop_roster(db, shop.id)
    rows = db.execute(
        sa.select(CheckIn, Customer)
        .join(Customer, Customer.id == CheckIn.customer_id)
        .where(
            CheckIn.shop_id == shop.id,
            CheckIn.rep_id.in_(whose(reps, rep.id)),
            CheckIn.status.in_(OPEN_CHECKIN),
            sa.or_(CheckIn.status == CheckInStatus.DUE, CheckIn.due_at < end_of_local_day(now, rep.time_zone)),
        )
        .order_by(CheckIn.due_at, CheckIn.id)
        .limit(TODAY_LIMIT)
    ).all()
    tasks = []
    for checkin, customer in rows:
        if not works(reps, checkin, rep.id):
            continue
        card = CustomerCard.of(customer, shop.time_zone)
        when, overdue = _when(checkin.due_at, now, rep.time_zone)
        tasks.append(
            Task(
                id=checkin.id,
                kind=checkin.kind,
                status=checkin.status,
                when=when,
                overdue=overdue,
                due_customer=local(checkin.due_at, card.time_zone),
                outside_window=checkin.outside_window,
                attempts=checkin.attempts,
                note=checkin.note,
                customer=card,
            )
        )
    tasks.sort(key=lambda t: (-t.customer.offset_minutes, not t.overdue, t.id))
    return tasks


def fill_tasks(db: Session, tasks: list[Task], zone: str | None) -> None:
    """Orders (with lines and deliveries) and the last call of each task shown: five queries in all.
    Dates are shown in ``zone`` (the rep's)."""
    covered = checkin_orders(db, [t.id for t in tasks])
    orders = load_orders(db, {o for ids in covered.values() for o in ids}, zone)
    calls = last_calls(db, {t.customer.id for t in tasks}, zone)
    for task in tasks:
        task.orders = [orders[o] for o in covered.get(task.id, []) if o in orders]
        task.last_call = calls.get(task.customer.id)


def call_script(db: Session, shop_id: int) -> list[str]:
    text = db.scalar(sa.select(CheckInSettings.call_script).where(CheckInSettings.shop_id == shop_id))
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines or list(DEFAULT_SCRIPT)


def find_task(db: Session, shop: Shop, rep: Rep, checkin_id: int) -> tuple[CheckIn, Customer] | None:
    """One of the check-ins this rep works (their own, or one they cover for), or None: another rep's or
    another shop's is not found."""
    reps = shop_roster(db, shop.id)
    row = db.execute(
        sa.select(CheckIn, Customer)
        .join(Customer, Customer.id == CheckIn.customer_id)
        .where(CheckIn.id == checkin_id, CheckIn.shop_id == shop.id, CheckIn.rep_id.in_(whose(reps, rep.id)))
    ).one_or_none()
    if row is None or not (row[0].rep_id == rep.id or works(reps, row[0], rep.id)):
        return None
    return row[0], row[1]


# --- lists of customers --------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    query: str = ""
    segment: str = ""
    rep: str = ""  # a rep's id, "none" (no rep: the pool and prospects), or "" (everyone)

    @classmethod
    def of(cls, args: dict[str, str]) -> Filters:
        return cls(
            query=(args.get("q") or "").strip()[:SEARCH_MAX],
            segment=(args.get("segment") or "").strip()[:16],
            rep=(args.get("rep") or "").strip()[:12],
        )


def shown_segment(now: dt.datetime | None = None) -> sa.ColumnElement[str]:
    """The segment the pages show (``customers.views.current_segment``) as SQL: the stored one, or lapsed
    when the lapse time has passed since the hourly refresh."""
    lapsed = sa.and_(
        Customer.orders_count > 0, Customer.lapses_at.is_not(None), Customer.lapses_at <= (now or utcnow())
    )
    return sa.case((lapsed, "lapsed"), else_=Customer.segment)


@dataclass
class Row:
    card: CustomerCard
    last_contact: str = "Never"
    next_task: str = "None"
    next_task_id: int | None = None


def _matching(shop_id: int, book_of: int | None, filters: Filters) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = [Customer.shop_id == shop_id, Customer.deleted_at.is_(None)]
    if book_of is not None:
        conditions.append(Customer.rep_id == book_of)
    if filters.segment:
        conditions.append(shown_segment() == filters.segment)
    if filters.rep == "none":
        conditions.append(Customer.rep_id.is_(None))
    elif filters.rep.isdigit():
        conditions.append(Customer.rep_id == int(filters.rep))
    q = filters.query.lower()
    if q:
        name = sa.func.lower(sa.func.coalesce(Customer.first_name, "") + " " + sa.func.coalesce(Customer.last_name, ""))
        order_match = (
            sa.select(Order.id)
            .where(
                Order.shop_id == shop_id,
                Order.customer_id == Customer.id,
                sa.or_(
                    sa.func.lower(Order.name).contains(q, autoescape=True), Order.platform_order_id == q.lstrip("#")
                ),
            )
            .exists()
        )
        conditions.append(
            sa.or_(
                name.contains(q, autoescape=True),
                sa.func.lower(Customer.email).contains(q, autoescape=True),
                order_match,
            )
        )
    return conditions


def customers(
    db: Session,
    shop: Shop,
    filters: Filters,
    page_number: int,
    *,
    book_of: int | None = None,
    size: int = PAGE_SIZE,
    zone: str | None = None,
) -> tuple[list[Row], Page]:
    """A page of the shop's customers (or of one rep's book), by name: four queries per page. Times are
    shown in ``zone`` (the reader's: a rep's own, else the shop's)."""
    zone = zone or shop.time_zone
    conditions = _matching(shop.id, book_of, filters)
    total = int(db.scalar(sa.select(sa.func.count()).select_from(Customer).where(*conditions)) or 0)
    page = Page(number=1, size=size, total=total)
    page = Page(number=min(page_number, page.pages), size=size, total=total)
    found = db.execute(
        sa.select(Customer, Rep.name)
        .outerjoin(Rep, Rep.id == Customer.rep_id)
        .where(*conditions)
        .order_by(
            sa.func.lower(sa.func.coalesce(Customer.first_name, Customer.email, "")),
            sa.func.lower(sa.func.coalesce(Customer.last_name, "")),
            Customer.id,
        )
        .offset(page.offset)
        .limit(size)
    ).all()
    rows = [Row(CustomerCard.of(customer, shop.time_zone, rep_name)) for customer, rep_name in found]
    ids = [row.card.id for row in rows]
    if ids:
        contacted = dict(
            db.execute(
                sa.select(CheckIn.customer_id, sa.func.max(CheckInAttempt.at))
                .join(CheckIn, CheckIn.id == CheckInAttempt.checkin_id)
                .where(CheckIn.customer_id.in_(ids))
                .group_by(CheckIn.customer_id)
            ).all()
        )
        ranked = (
            sa.select(
                CheckIn.id,
                CheckIn.customer_id,
                CheckIn.due_at,
                sa.func.row_number()
                .over(partition_by=CheckIn.customer_id, order_by=(CheckIn.due_at, CheckIn.id))
                .label("n"),
            )
            .where(CheckIn.customer_id.in_(ids), CheckIn.status.in_(OPEN_CHECKIN))
            .subquery()
        )
        upcoming = {r.customer_id: (r.id, r.due_at) for r in db.execute(sa.select(ranked).where(ranked.c.n == 1))}
        for row in rows:
            when = contacted.get(row.card.id)
            if when is not None:
                row.last_contact = local(when, zone)
            if row.card.id in upcoming:
                row.next_task_id, due_at = upcoming[row.card.id]
                row.next_task = f"Call {local(due_at, zone)}"
    return rows, page


def shop_reps(db: Session, shop_id: int) -> list[tuple[int, str]]:
    """(id, name) of the shop's reps, for filters and forms (one query)."""
    return [
        (rep_id, name)
        for rep_id, name in db.execute(
            sa.select(Rep.id, Rep.name).where(Rep.shop_id == shop_id).order_by(sa.func.lower(Rep.name), Rep.id)
        )
    ]
