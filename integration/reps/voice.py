"""Voice of the customer: what check-in calls heard, rolled up per product and per rep over a period.

* **NPS** = % promoters (scores 9 to 10) minus % detractors (0 to 6) among the calls that asked for a score.
* **Response rate** = tasks reached ÷ tasks attempted: a task counts once however many calls it took,
  and as reached when one of its calls reached the customer.
* A call counts towards every product of the orders its task covers (a call about two products speaks
  for both), and towards the rep who made it.

Five queries for the whole page, however many calls, products or reps the period holds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.customers.models import Customer, OrderLine
from integration.reps.cards import display_name, local, zone_of
from integration.reps.models import CheckIn, CheckInAttempt, CheckInOrder, Rep
from integration.shops.models import Shop

PRODUCTS_SHOWN = 100
NOTES_SHOWN = 20
DEFAULT_DAYS = 30
MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    start: dt.date  # first day, inclusive (the shop's days)
    end: dt.date  # last day, inclusive

    @classmethod
    def default(cls, today: dt.date) -> Period:
        return cls(today - dt.timedelta(days=DEFAULT_DAYS - 1), today)

    def bounds(self, zone: str | None) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) in UTC: from the first day's midnight to the midnight after the last day."""
        tz = zone_of(zone)
        start = dt.datetime.combine(self.start, dt.time(), tzinfo=tz).astimezone(dt.UTC)
        end = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=tz).astimezone(dt.UTC)
        return start, end


@dataclass(frozen=True)
class Rollup:
    label: str
    attempted: int
    reached: int
    scored: int
    promoters: int
    detractors: int

    @property
    def nps(self) -> int | None:
        if not self.scored:
            return None
        return round(100 * (self.promoters - self.detractors) / self.scored)

    @property
    def nps_text(self) -> str:
        return "—" if self.nps is None else f"{self.nps:+d}"

    @property
    def response_rate(self) -> str:
        if not self.attempted:
            return "—"
        return f"{round(100 * self.reached / self.attempted)} % ({self.reached} of {self.attempted})"


@dataclass(frozen=True)
class Note:
    at: str
    customer: str
    customer_id: int
    rep: str | None
    product: str | None
    text: str | None
    recommend: int | None


@dataclass(frozen=True)
class Voice:
    period: Period
    overall: Rollup
    per_rep: list[Rollup]
    per_product: list[Rollup]
    notes: list[Note]


def _measures(attempt: type[CheckInAttempt] | sa.Subquery, *, distinct_calls: bool = False) -> list[sa.Label[int]]:
    c = attempt.c if isinstance(attempt, sa.Subquery) else attempt
    checkin_id, outcome, recommend, attempt_id = c.checkin_id, c.outcome, c.recommend, c.id

    def calls(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        if distinct_calls:  # the product roll-up sees a call once per order line: count each once
            return sa.func.count(sa.distinct(sa.case((condition, attempt_id))))
        return sa.func.count(sa.case((condition, attempt_id)))

    return [
        sa.func.count(sa.distinct(checkin_id)).label("attempted"),
        sa.func.count(sa.distinct(sa.case((outcome == "reached", checkin_id)))).label("reached"),
        calls(recommend.is_not(None)).label("scored"),
        calls(recommend >= 9).label("promoters"),
        calls(recommend <= 6).label("detractors"),
    ]


def _rollup(label: str, row: Any) -> Rollup:
    return Rollup(
        label,
        int(row.attempted or 0),
        int(row.reached or 0),
        int(row.scored or 0),
        int(row.promoters or 0),
        int(row.detractors or 0),
    )


def _in_period(shop_id: int, start: dt.datetime, end: dt.datetime) -> list[sa.ColumnElement[bool]]:
    return [CheckIn.shop_id == shop_id, CheckInAttempt.at >= start, CheckInAttempt.at < end]


def voice(db: Session, shop: Shop, period: Period) -> Voice:
    start, end = period.bounds(shop.time_zone)
    scope = _in_period(shop.id, start, end)
    calls = sa.select(CheckInAttempt).join(CheckIn, CheckIn.id == CheckInAttempt.checkin_id)

    total = db.execute(calls.with_only_columns(*_measures(CheckInAttempt)).where(*scope)).one()
    overall = _rollup("All calls", total)

    per_rep = [
        _rollup(row.name or "A rep no longer on the roster", row)
        for row in db.execute(
            calls.with_only_columns(Rep.name, CheckInAttempt.rep_id, *_measures(CheckInAttempt))
            .outerjoin(Rep, Rep.id == CheckInAttempt.rep_id)
            .where(*scope)
            .group_by(CheckInAttempt.rep_id, Rep.name)
            .order_by(sa.func.lower(sa.func.coalesce(Rep.name, "")))
        ).all()
    ]

    product_key = sa.func.coalesce(OrderLine.product_id, OrderLine.title)
    lines = (
        sa.select(
            CheckInAttempt.id,
            CheckInAttempt.checkin_id,
            CheckInAttempt.outcome,
            CheckInAttempt.recommend,
            product_key.label("product"),
            OrderLine.title,
        )
        .join(CheckIn, CheckIn.id == CheckInAttempt.checkin_id)
        .join(CheckInOrder, CheckInOrder.checkin_id == CheckIn.id)
        .join(OrderLine, OrderLine.order_id == CheckInOrder.order_id)
        .where(*scope)
        .subquery()
    )
    measures = _measures(lines, distinct_calls=True)
    per_product = [
        _rollup(row.title, row)
        for row in db.execute(
            sa.select(lines.c.product, sa.func.max(lines.c.title).label("title"), *measures)
            .group_by(lines.c.product)
            .order_by(sa.desc("scored"), sa.desc("attempted"), sa.func.max(lines.c.title))
            .limit(PRODUCTS_SHOWN)
        ).all()
    ]

    product_title = (
        sa.select(sa.func.max(OrderLine.title))
        .join(CheckInOrder, CheckInOrder.order_id == OrderLine.order_id)
        .where(
            CheckInOrder.checkin_id == CheckInAttempt.checkin_id,
            OrderLine.product_id == CheckInAttempt.improve_product_id,
        )
        .scalar_subquery()
    )
    notes = [
        Note(
            at=local(row.at, shop.time_zone),
            customer=display_name(row.first_name, row.last_name, row.email, row.customer_id),
            customer_id=row.customer_id,
            rep=row.rep,
            product=row.product or row.improve_product_id,
            text=row.improve,
            recommend=row.recommend,
        )
        for row in db.execute(
            sa.select(
                CheckInAttempt.at,
                CheckInAttempt.improve,
                CheckInAttempt.improve_product_id,
                CheckInAttempt.recommend,
                Customer.id.label("customer_id"),
                Customer.first_name,
                Customer.last_name,
                Customer.email,
                Rep.name.label("rep"),
                product_title.label("product"),
            )
            .join(CheckIn, CheckIn.id == CheckInAttempt.checkin_id)
            .join(Customer, Customer.id == CheckIn.customer_id)
            .outerjoin(Rep, Rep.id == CheckInAttempt.rep_id)
            .where(*scope, sa.or_(CheckInAttempt.improve.is_not(None), CheckInAttempt.improve_product_id.is_not(None)))
            .order_by(CheckInAttempt.at.desc(), CheckInAttempt.id.desc())
            .limit(NOTES_SHOWN)
        ).all()
    ]
    return Voice(period, overall, per_rep, per_product, notes)
