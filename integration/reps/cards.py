"""What the pages show about a customer and their orders, read in a fixed number of queries.

Every loader here takes the ids of a whole page of rows and answers with one query each (orders, their
lines, their deliveries, the last call notes), so a page costs the same number of statements whether it
lists one customer or fifty.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.db import utcnow
from integration.customers.models import Customer, Fulfillment, Order, OrderLine
from integration.customers.views import current_segment
from integration.reps.checkins import wants_no_calls
from integration.reps.models import CheckIn, CheckInAttempt, CheckInOrder

SEGMENT_LABELS = {
    "prospect": "Prospect",
    "new": "New",
    "returning": "Returning",
    "vip": "VIP",
    "lapsed": "Lapsed",
}
OUTCOME_LABELS = {
    "reached": "Reached",
    "voicemail": "Voicemail",
    "no_answer": "No answer",
    "wrong_number": "Wrong number",
    "declined": "Declined",
}


def zone_of(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local(when: dt.datetime | None, zone: str | None, with_day: bool = True) -> str:
    """``when`` in ``zone`` as people read it: ``Mon 4 Jan 14:05 GMT`` (or ``14:05 GMT``)."""
    if when is None:
        return "—"
    moment = when.astimezone(zone_of(zone))
    text = f"{moment:%a} {moment.day} {moment:%b %H:%M %Z}" if with_day else f"{moment:%H:%M %Z}"
    return text


def local_date(when: dt.datetime | dt.date | None, zone: str | None = None) -> str:
    if when is None:
        return "—"
    day = when.astimezone(zone_of(zone)).date() if isinstance(when, dt.datetime) else when
    return f"{day:%a} {day.day} {day:%b %Y}"


def display_name(first: str | None, last: str | None, email: str | None, customer_id: int) -> str:
    return " ".join(part for part in (first, last) if part) or email or f"Customer {customer_id}"


def money(amount: Decimal | None, currency: str | None) -> str:
    if amount is None:
        return "—"
    return f"{amount:,.2f} {currency}" if currency else f"{amount:,.2f}"


@dataclass(frozen=True)
class CustomerCard:
    """Who the customer is and where, as a rep needs it before a call."""

    id: int
    name: str
    email: str | None
    phone: str | None
    place: str
    time_zone: str
    zone_guessed: bool  # the shop's zone stands in for the customer's own
    local_now: str
    offset_minutes: int  # the customer's UTC offset now (orders the Today list)
    segment: str
    segment_label: str
    orders_count: int
    total_spent: str
    do_not_call: bool
    consent: dict[str, str]
    rep_name: str | None = None

    @classmethod
    def of(cls, customer: Customer, shop_zone: str | None, rep_name: str | None = None) -> CustomerCard:
        zone_name = customer.time_zone or shop_zone or "UTC"
        now = utcnow().astimezone(zone_of(zone_name))
        offset = now.utcoffset() or dt.timedelta()
        segment = current_segment(customer)
        place = ", ".join(
            p for p in (customer.city, customer.region or customer.region_code, customer.country_code) if p
        )
        return cls(
            id=customer.id,
            name=display_name(customer.first_name, customer.last_name, customer.email, customer.id),
            email=customer.email,
            phone=customer.phone,
            place=place or "Unknown",
            time_zone=zone_name,
            zone_guessed=customer.time_zone is None or customer.time_zone_source == "shop",
            local_now=local(utcnow(), zone_name),
            offset_minutes=int(offset.total_seconds() // 60),
            segment=segment,
            segment_label=SEGMENT_LABELS.get(segment, segment.title()),
            orders_count=customer.orders_count,
            total_spent=money(customer.total_spent, customer.currency),
            do_not_call=wants_no_calls(customer.call_consent),
            consent={
                "Email": _consent_word(customer.email_consent),
                "SMS": _consent_word(customer.sms_consent),
                "Calls": _consent_word(customer.call_consent),
            },
            rep_name=rep_name,
        )


def _consent_word(state: str | None) -> str:
    return state.replace("_", " ").capitalize() if state else "Not known"


@dataclass
class OrderCard:
    id: int
    platform_id: str
    name: str
    placed: str
    status: str
    total: str
    lines: list[tuple[str, int]] = field(default_factory=list)
    products: list[tuple[str, str]] = field(default_factory=list)  # (product id, title) for the form
    delivery: str = "Not shipped yet"


def load_orders(db: Session, order_ids: Collection[int], zone: str | None) -> dict[int, OrderCard]:
    """Orders with their lines and delivery state, by id: three queries however many orders."""
    if not order_ids:
        return {}
    orders = db.execute(
        sa.select(
            Order.id,
            Order.shop_id,
            Order.platform_order_id,
            Order.name,
            Order.placed_at,
            Order.status,
            Order.total_price,
            Order.currency,
        ).where(Order.id.in_(order_ids))
    ).all()
    cards = {
        o.id: OrderCard(
            id=o.id,
            platform_id=o.platform_order_id,
            name=o.name or f"#{o.platform_order_id}",
            placed=local_date(o.placed_at, zone),
            status=o.status.replace("_", " "),
            total=money(o.total_price, o.currency),
        )
        for o in orders
    }
    for line in db.execute(
        sa.select(OrderLine.order_id, OrderLine.title, OrderLine.quantity, OrderLine.product_id)
        .where(OrderLine.order_id.in_(cards))
        .order_by(OrderLine.order_id, OrderLine.id)
    ):
        card = cards[line.order_id]
        card.lines.append((line.title, line.quantity))
        if line.product_id and all(pid != line.product_id for pid, _ in card.products):
            card.products.append((line.product_id, line.title))
    by_platform = {(o.shop_id, o.platform_order_id): o.id for o in orders}
    shop_ids = {o.shop_id for o in orders}
    deliveries: dict[int, list[tuple[dt.datetime | None, dt.datetime | None, str]]] = {}
    for f in db.execute(
        sa.select(
            Fulfillment.shop_id,
            Fulfillment.platform_order_id,
            Fulfillment.status,
            Fulfillment.shipped_at,
            Fulfillment.delivered_at,
        ).where(
            Fulfillment.shop_id.in_(shop_ids), Fulfillment.platform_order_id.in_([o.platform_order_id for o in orders])
        )
    ):
        order_id = by_platform.get((f.shop_id, f.platform_order_id))
        if order_id is not None:
            deliveries.setdefault(order_id, []).append((f.delivered_at, f.shipped_at, f.status))
    for order_id, found in deliveries.items():
        delivered = [d for d, _, _ in found if d is not None]
        shipped = [s for _, s, _ in found if s is not None]
        if delivered:
            cards[order_id].delivery = f"Delivered {local_date(max(delivered), zone)}"
        elif shipped:
            cards[order_id].delivery = f"Shipped {local_date(max(shipped), zone)}"
        else:
            cards[order_id].delivery = found[0][2].replace("_", " ").capitalize()
    return cards


def checkin_orders(db: Session, checkin_ids: Iterable[int]) -> dict[int, list[int]]:
    """The orders each check-in covers (one query)."""
    found: dict[int, list[int]] = {}
    ids = list(checkin_ids)
    if ids:
        for checkin_id, order_id in db.execute(
            sa.select(CheckInOrder.checkin_id, CheckInOrder.order_id)
            .where(CheckInOrder.checkin_id.in_(ids))
            .order_by(CheckInOrder.checkin_id, CheckInOrder.order_id)
        ):
            found.setdefault(checkin_id, []).append(order_id)
    return found


@dataclass(frozen=True)
class LastCall:
    at: str
    outcome: str
    notes: str | None


def last_calls(db: Session, customer_ids: Collection[int], zone: str | None) -> dict[int, LastCall]:
    """Each customer's latest call (its outcome and notes), one query for the whole page."""
    if not customer_ids:
        return {}
    ranked = (
        sa.select(
            CheckIn.customer_id,
            CheckInAttempt.at,
            CheckInAttempt.outcome,
            CheckInAttempt.notes,
            sa.func.row_number()
            .over(partition_by=CheckIn.customer_id, order_by=(CheckInAttempt.at.desc(), CheckInAttempt.id.desc()))
            .label("n"),
        )
        .join(CheckIn, CheckIn.id == CheckInAttempt.checkin_id)
        .where(CheckIn.customer_id.in_(customer_ids))
        .subquery()
    )
    rows = db.execute(sa.select(ranked).where(ranked.c.n == 1))
    return {
        row.customer_id: LastCall(local(row.at, zone), OUTCOME_LABELS.get(row.outcome, row.outcome), row.notes)
        for row in rows
    }
