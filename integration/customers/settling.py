"""Settling an order on its profile: the totals, dates, lapse moment, segment, products bought and
timeline facts, from the order as the upsert just wrote it (nothing read back).

Every order row remembers what it adds to whose totals (``counted_customer_id``, ``counted_total``);
settling subtracts that and adds the new contribution, so the cost of an event does not grow with the
customer's history or the shop's size.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.db import utcnow
from integration.customers.models import OrderLine
from integration.customers.profiles import COUNTED, FACT_COUNTERS, add_timeline, refresh_segment, segment_expression
from integration.customers.statements import CUSTOMERS, ORDERS, PRODUCTS, prepared
from integration.events.changes import OrderStatus

CENTS = Decimal("0.01")


@dataclass(frozen=True)
class WrittenOrder:
    """An order as the upsert just wrote it (the row is locked by that upsert), with what it counted
    before: enough to settle the profile without reading the order back."""

    id: int
    platform_order_id: str
    customer_id: int | None
    name: str | None
    status: str
    total_price: Decimal | None
    currency: str | None
    placed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    source_updated_at: dt.datetime
    lines: Sequence[Any]  # product_id, title, quantity: as written
    counted_customer_id: int | None
    counted_total: Decimal | None


def cents(amount: Decimal | None) -> Decimal | None:
    """An amount as the Numeric(14, 2) columns store it."""
    return None if amount is None else Decimal(amount).quantize(CENTS, rounding=ROUND_HALF_UP)


def _contribution(order: WrittenOrder) -> tuple[int | None, Decimal | None]:
    if order.customer_id is None or order.status not in COUNTED:
        return None, None
    return order.customer_id, order.total_price or Decimal("0")


def _product_deltas(lines: Sequence[OrderLine | Any], sign: int) -> Counter[tuple[str, str]]:
    deltas: Counter[tuple[str, str]] = Counter()
    for line in lines:
        key = line.product_id or line.title
        deltas[(key[:512], line.title[:512])] += sign * line.quantity
    return deltas


def _apply_products(session: Session, customer_id: int, deltas: Counter[tuple[str, str]]) -> None:
    rows = [
        {"customer_id": customer_id, "product_key": key, "title": title, "quantity": quantity}
        for (key, title), quantity in deltas.items()
        if quantity != 0
    ]
    if not rows:
        return

    def build(insert: Any) -> Any:
        stmt = insert(PRODUCTS)
        return stmt.on_conflict_do_update(
            index_elements=["customer_id", "product_key"],
            set_={"quantity": PRODUCTS.c.quantity + stmt.excluded.quantity, "title": stmt.excluded.title},
        )

    session.execute(prepared(session, "add products", build), rows)  # one executemany


def _set_counted(session: Session, order_id: int, customer_id: int | None, total: Decimal | None) -> None:
    statement = prepared(
        session,
        "set counted",
        lambda _: (
            sa.update(ORDERS)
            .where(ORDERS.c.id == sa.bindparam("order_id"))
            .values(counted_customer_id=sa.bindparam("customer"), counted_total=sa.bindparam("total"))
        ),
    )
    session.execute(statement, {"order_id": order_id, "customer": customer_id, "total": total})


def settle_order(session: Session, order: WrittenOrder, previous_lines: Sequence[Any]) -> None:
    """Bring the profile totals in line with the order as it now stands.

    ``previous_lines`` are the lines the order had before this change (what was counted). Must run in
    the transaction that changed the order, after the change: the order row is locked by then.
    """
    new_customer, new_total = _contribution(order)
    old_customer, old_total = order.counted_customer_id, order.counted_total
    products_then = _product_deltas(previous_lines, -1) if old_customer else Counter()
    products_now = _product_deltas(order.lines, +1) if new_customer else Counter()
    if old_customer == new_customer and old_total == new_total and products_then + products_now == Counter():
        _record_order_facts(session, order)
        return
    segmented: set[int] = set()
    if old_customer is not None:
        # The order stops counting first: the old profile's dates are read back from what still counts.
        _set_counted(session, order.id, None, None)
        _add_to_profile(session, old_customer, order, -1, old_total or Decimal("0"))
        segmented.add(old_customer)
        _apply_products(session, old_customer, products_then)
    if new_customer is not None:
        _set_counted(session, order.id, new_customer, new_total)
        _add_to_profile(session, new_customer, order, +1, new_total or Decimal("0"))
        segmented.add(new_customer)
        _apply_products(session, new_customer, products_now)
    _record_order_facts(session, order)
    for profile_id in {old_customer, new_customer, order.customer_id} - {None} - segmented:
        assert profile_id is not None
        refresh_segment(session, profile_id)


def _add_to_profile(session: Session, profile_id: int, order: WrittenOrder, sign: int, amount: Decimal) -> None:
    """Add (or take away) the order's share of the profile's totals, then its lapse moment and segment
    (which the totals decide): two statements."""
    placed = order.placed_at
    dated = sign > 0 and placed is not None

    def build(_: Any) -> Any:
        values: dict[str, Any] = {
            "orders_count": CUSTOMERS.c.orders_count + sign,
            "total_spent": CUSTOMERS.c.total_spent + sa.bindparam("amount", type_=CUSTOMERS.c.total_spent.type),
            "updated_at": sa.bindparam("now", type_=CUSTOMERS.c.updated_at.type),
        }
        if order.currency:
            values["currency"] = sa.bindparam("currency")
        if dated:
            at = sa.bindparam("placed", type_=CUSTOMERS.c.first_order_at.type)
            values["first_order_at"] = sa.case(
                (sa.or_(CUSTOMERS.c.first_order_at.is_(None), CUSTOMERS.c.first_order_at > at), at),
                else_=CUSTOMERS.c.first_order_at,
            )
            values["last_order_at"] = sa.case(
                (sa.or_(CUSTOMERS.c.last_order_at.is_(None), CUSTOMERS.c.last_order_at < at), at),
                else_=CUSTOMERS.c.last_order_at,
            )
        elif sign < 0:
            # The order no longer counts: its dates may have been the first or last; an index seek over
            # this customer's counted orders says what they are now (no history scan).
            counted = sa.select(ORDERS.c.placed_at).where(ORDERS.c.counted_customer_id == sa.bindparam("profile_id"))
            values["first_order_at"] = counted.with_only_columns(sa.func.min(ORDERS.c.placed_at)).scalar_subquery()
            values["last_order_at"] = counted.with_only_columns(sa.func.max(ORDERS.c.placed_at)).scalar_subquery()
        return (
            sa.update(CUSTOMERS)
            .where(CUSTOMERS.c.id == sa.bindparam("profile_id"))
            .values(**values)
            .returning(CUSTOMERS.c.first_order_at, CUSTOMERS.c.last_order_at, CUSTOMERS.c.orders_count)
        )

    statement = prepared(session, f"add to profile:{sign}:{bool(order.currency)}:{dated}", build)
    params = {"profile_id": profile_id, "amount": sign * amount, "now": utcnow(), "currency": order.currency,
              "placed": placed}  # fmt: skip
    first, last, count = session.execute(statement, params).one()
    lapses = lapse_moment(first, last, count)
    statement = prepared(
        session,
        "lapses and segment",
        lambda _: sa.update(CUSTOMERS)
        .where(CUSTOMERS.c.id == sa.bindparam("profile_id"))
        .values(
            lapses_at=sa.bindparam("lapses", type_=CUSTOMERS.c.lapses_at.type),
            segment=segment_expression(sa.bindparam("now", type_=CUSTOMERS.c.lapses_at.type),
                                       lapses=sa.bindparam("lapses_again", type_=CUSTOMERS.c.lapses_at.type)),
        ),
    )  # fmt: skip
    session.execute(statement, {"profile_id": profile_id, "lapses": lapses, "lapses_again": lapses, "now": utcnow()})


def lapse_moment(first: dt.datetime | None, last: dt.datetime | None, count: int) -> dt.datetime | None:
    """When someone with these orders has gone twice their usual interval without ordering."""
    if count < 2 or first is None or last is None or last <= first:
        return None
    return last + 2 * (last - first) / (count - 1)


def _record_order_facts(session: Session, order: WrittenOrder) -> None:
    """Timeline facts about this order (idempotent: one row per fact)."""
    if order.customer_id is None:
        return
    items = sum(line.quantity for line in order.lines)
    total = f"{order.total_price} {order.currency or ''}".strip() if order.total_price is not None else "no total"
    facts = [
        (
            "order",
            order.placed_at or order.source_updated_at,
            f"Order {order.name or order.platform_order_id}: {items} item(s), {total}",
        )
    ]
    if order.status == OrderStatus.CANCELLED:
        facts.append(
            (
                "order_cancelled",
                order.cancelled_at or order.source_updated_at,
                f"Order {order.name or order.platform_order_id} cancelled",
            )
        )
    if order.status in (OrderStatus.REFUNDED, OrderStatus.PARTIALLY_REFUNDED):
        facts.append(
            (
                "order_refunded",
                order.source_updated_at,
                f"Order {order.name or order.platform_order_id} {order.status.replace('_', ' ')}",
            )
        )
    for kind, at, summary in facts:
        if add_timeline(session, order.customer_id, kind, order.platform_order_id, at, summary):
            counter = FACT_COUNTERS.get(kind)
            if counter is not None:
                session.execute(
                    sa.update(CUSTOMERS)
                    .where(CUSTOMERS.c.id == order.customer_id)
                    .values({counter.key: CUSTOMERS.c[counter.key] + 1})
                )
