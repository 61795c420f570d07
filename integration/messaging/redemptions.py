"""Thank-you codes redeemed: matched from the discount codes of a later paid order.

When processing applies a qualifying order (paid or further along, not a test) that carries discount
codes, each code is looked up among the shop's thank-you codes, ignoring case (ours are upper-case; a
customer may type them any way, and the platforms report what was typed). A match is marked redeemed
with the order, its total and currency and the time, by one conditional UPDATE (``redeemed_at IS
NULL``): an order update, a duplicate webhook or a replay finds it redeemed already and changes nothing.
The first redemption goes on the customer's timeline.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.db import utcnow
from integration.customers.models import Order, OrderDiscountCode
from integration.customers.profiles import add_timeline
from integration.messaging.models import ThankYouCode

log = logging.getLogger(__name__)

MAX_CODES = 20  # more on one order is not a customer typing codes; never a query with thousands of terms


def _keys(codes: Iterable[str]) -> list[str]:
    return sorted({code.strip().upper() for code in codes if code and code.strip()})[:MAX_CODES]


def redeem(session: Session, order_id: int, *, now: dt.datetime | None = None) -> list[int]:
    """Mark the thank-you codes this order used as redeemed by it; returns the ids marked now."""
    now = now or utcnow()
    order = session.get(Order, order_id)
    if order is None or order.test:
        return []
    keys = _keys(session.scalars(sa.select(OrderDiscountCode.code).where(OrderDiscountCode.order_id == order_id)))
    if not keys:
        return []
    matches = session.execute(
        sa.select(ThankYouCode.id, ThankYouCode.customer_id, ThankYouCode.code).where(
            ThankYouCode.shop_id == order.shop_id,
            ThankYouCode.code.in_(keys),
            ThankYouCode.redeemed_at.is_(None),
        )
    ).all()
    marked: list[int] = []
    for code_id, customer_id, code in matches:
        done = session.execute(
            sa.update(ThankYouCode)
            .where(ThankYouCode.id == code_id, ThankYouCode.redeemed_at.is_(None))
            .values(
                redeemed_order_id=order.id,
                redeemed_at=now,
                redeemed_total=order.total_price,
                redeemed_currency=order.currency,
            )
        )
        if not done.rowcount:  # type: ignore[attr-defined]  # another worker marked it first
            continue
        marked.append(code_id)
        amount = " ".join(str(part) for part in (order.total_price, order.currency) if part is not None)
        summary = f"Used thank-you code {code} on order {order.name or '#' + order.platform_order_id}"
        add_timeline(
            session,
            customer_id,
            "code_redeemed",
            code,
            order.placed_at or now,
            summary + (f" ({amount})" if amount else ""),
        )
    if marked:
        log.info("order %s redeemed %d thank-you code(s)", order_id, len(marked))
    return marked
