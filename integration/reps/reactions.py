"""What the reps domain does with each change processing applies (same transaction as the change).

A qualifying order (paid or further along, not a test order, not cancelled) gives its customer a rep if
they have none yet. Check-ins hang off deliveries (``integration.reps.checkins``).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.customers.models import Order
from integration.events.changes import Change, OrderChange, OrderStatus
from integration.reps.books import assign

QUALIFYING = frozenset(
    {OrderStatus.PAID, OrderStatus.PARTIALLY_FULFILLED, OrderStatus.FULFILLED, OrderStatus.PARTIALLY_REFUNDED}
)


def after_change(session: Session, shop_id: int, change: Change) -> None:
    if isinstance(change, OrderChange) and change.status in QUALIFYING and not change.test:
        customer_id = session.scalar(
            sa.select(Order.customer_id).where(Order.shop_id == shop_id, Order.platform_order_id == change.platform_id)
        )
        if customer_id is not None:
            assign(session, customer_id)
