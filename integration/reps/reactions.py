"""What the reps domain does with each change processing applies (same transaction as the change).

A qualifying order (paid or further along, not a test order, not cancelled) gives its customer a rep if
they have none yet. Anything about an order's journey (the order, a fulfilment, a tracking step) may open,
fold into, move or cancel a check-in (``integration.reps.checkins``); a customer who wants no calls, or is
deleted, keeps no open task.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.customers.models import Customer, Order
from integration.customers.profiles import normalise_email
from integration.customers.upserts import written_order
from integration.events.changes import (
    Change,
    ConsentChange,
    ConsentChannel,
    CustomerDeleted,
    DeliveryProgress,
    FulfillmentChange,
    OrderChange,
    OrderStatus,
)
from integration.reps import checkins
from integration.reps.books import assign

QUALIFYING = frozenset(
    {OrderStatus.PAID, OrderStatus.PARTIALLY_FULFILLED, OrderStatus.FULFILLED, OrderStatus.PARTIALLY_REFUNDED}
)


def after_change(session: Session, shop_id: int, change: Change, *, now: dt.datetime | None = None) -> None:
    """``now``: the clock (tests pass one; processing uses the real time)."""
    match change:
        case OrderChange():
            if change.status in QUALIFYING and not change.test:
                written = written_order(session, shop_id, change.platform_id)
                customer_id = written[1] if written is not None else session.scalar(
                    sa.select(Order.customer_id).where(
                        Order.shop_id == shop_id, Order.platform_order_id == change.platform_id
                    )
                )  # fmt: skip
                if customer_id is not None:
                    assign(session, customer_id, now=now)
            checkins.on_order(session, shop_id, change.platform_id, now=now)
        case FulfillmentChange():
            checkins.on_order(session, shop_id, change.order_platform_id, now=now)
        case DeliveryProgress():
            checkins.on_order(session, shop_id, change.order_platform_id, now=now)
        case ConsentChange(channel=ConsentChannel.CALLS):
            for customer_id in _consenting(session, shop_id, change):
                checkins.on_call_consent(session, customer_id, now=now)
        case CustomerDeleted():
            customer_id = session.scalar(
                sa.select(Customer.id).where(
                    Customer.shop_id == shop_id, Customer.platform_customer_id == change.platform_id
                )
            )
            if customer_id is not None:
                checkins.cancel_open(session, customer_id, "customer deleted", now=now)


def _consenting(session: Session, shop_id: int, change: ConsentChange) -> list[int]:
    """The profile a consent change was applied to (by platform id, else by email)."""
    if change.customer_platform_id:
        condition = Customer.platform_customer_id == change.customer_platform_id
    elif email := normalise_email(change.email):
        condition = Customer.email == email
    else:
        return []
    return list(session.scalars(sa.select(Customer.id).where(Customer.shop_id == shop_id, condition)))
