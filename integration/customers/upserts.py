"""Applying changes from the one event model to the database, idempotently and in platform order.

Every write is a single ``INSERT … ON CONFLICT DO UPDATE … WHERE stored.source_updated_at <=
incoming.source_updated_at``: atomic under concurrent workers, a no-op for a payload older than what
we hold (platforms deliver out of order), and harmless to repeat.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.db import Base, dialect_insert, utcnow
from integration.customers.models import Customer, Fulfillment, Order, OrderDiscountCode, OrderLine
from integration.customers.profiles import EPOCH, apply_consent, normalise_email, settle_order, upsert_profile
from integration.events.changes import (
    Address,
    Change,
    ConsentChange,
    CustomerChange,
    CustomerDeleted,
    DeliveryProgress,
    FulfillmentChange,
    FulfillmentStatus,
    OrderChange,
)


def _upsert(
    session: Session,
    model: type[Base],
    values: Mapping[str, Any],
    key: tuple[str, ...],
    update: tuple[str, ...],
    newer_than: str | None = "source_updated_at",
    newer_status: bool = False,
) -> int | None:
    """Insert or update one row; returns its id, or None when the stored row is newer.

    ``newer_status``: ``status`` and ``status_updated_at`` follow their own clock (only a newer
    status replaces the stored one), whatever the row's other columns do.
    """
    table: sa.Table = model.__table__  # type: ignore[assignment]
    stmt = dialect_insert(session)(table).values(**values)
    assignments: dict[str, Any] = {name: stmt.excluded[name] for name in update}
    assignments["updated_at"] = stmt.excluded["updated_at"]
    if newer_status:
        status_is_newer = table.c.status_updated_at <= stmt.excluded.status_updated_at
        for name in ("status", "status_updated_at"):
            assignments[name] = sa.case((status_is_newer, stmt.excluded[name]), else_=table.c[name])
    where = table.c[newer_than] <= stmt.excluded[newer_than] if newer_than else None
    stmt = stmt.on_conflict_do_update(index_elements=list(key), set_=assignments, where=where)
    row_id = session.execute(stmt.returning(table.c.id)).scalar()
    return None if row_id is None else int(row_id)


def _address(address: Address | None, prefix: str = "") -> dict[str, Any]:
    a = address or Address()
    return {
        f"{prefix}city": a.city,
        f"{prefix}region": a.region,
        f"{prefix}country_code": a.country_code,
    }


def upsert_customer(session: Session, shop_id: int, change: CustomerChange) -> int:
    """Apply a customer change to its profile; returns the profile id whether or not it was newer."""
    return upsert_profile(session, shop_id, change)


def mark_customer_deleted(session: Session, shop_id: int, change: CustomerDeleted) -> None:
    session.execute(
        sa.update(Customer)
        .where(
            Customer.shop_id == shop_id,
            Customer.platform_customer_id == change.platform_id,
            Customer.source_updated_at <= change.updated_at,
        )
        .values(deleted_at=change.updated_at, source_updated_at=change.updated_at, updated_at=utcnow())
    )


def _order_customer(session: Session, shop_id: int, change: OrderChange) -> int | None:
    """The profile an order belongs to: its customer, or for a guest checkout a profile matched by
    the order's email (created if new)."""
    if change.customer is not None:
        return upsert_profile(session, shop_id, change.customer)
    if not normalise_email(change.email):
        return None
    guest = CustomerChange(
        platform_id=None,
        # Dated at checkout: a guest's details are as old as their order.
        updated_at=change.placed_at or change.updated_at,
        email=change.email,
        address=change.shipping_address,
    )
    return upsert_profile(session, shop_id, guest)


def upsert_order(session: Session, shop_id: int, change: OrderChange) -> int | None:
    """Apply an order change (and its customer); returns the order id, or None if ours was newer."""
    customer_id = _order_customer(session, shop_id, change)
    now = utcnow()
    values = {
        "shop_id": shop_id,
        "platform_order_id": change.platform_id,
        "customer_id": customer_id,
        "name": change.name,
        "email": change.email.strip().lower() if change.email else None,
        "currency": change.currency,
        "total_price": change.total_price,
        "status": change.status.value,
        "platform_status": change.platform_status,
        "placed_at": change.placed_at,
        "paid_at": change.paid_at,
        "cancelled_at": change.cancelled_at,
        "test": change.test,
        **_address(change.shipping_address, prefix="ship_"),
        "source_updated_at": change.updated_at,
        "created_at": now,
        "updated_at": now,
    }
    fixed = ("shop_id", "platform_order_id", "created_at", "updated_at", "paid_at")
    update = tuple(k for k in values if k not in fixed)
    order_id = _upsert(session, Order, values, ("shop_id", "platform_order_id"), update)
    if change.paid_at is not None:
        _record_payment(session, shop_id, change)
    if order_id is None:
        return None
    # The row is locked by our upsert now, so these are the lines that were counted, and nobody else
    # can count the new ones before we do.
    previous_lines = [
        _CountedLine(line.product_id, line.title, line.quantity)
        for line in session.scalars(sa.select(OrderLine).where(OrderLine.order_id == order_id))
    ]
    # The change describes the whole order, so its lines replace ours.
    session.execute(sa.delete(OrderLine).where(OrderLine.order_id == order_id))
    if change.lines:
        session.execute(
            sa.insert(OrderLine),
            [
                {
                    "order_id": order_id,
                    "platform_line_id": line.platform_line_id,
                    "product_id": line.product_id,
                    "variant_id": line.variant_id,
                    "title": line.title,
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "price": line.price,
                }
                for line in change.lines
            ],
        )
    # And its discount codes replace ours too.
    session.execute(sa.delete(OrderDiscountCode).where(OrderDiscountCode.order_id == order_id))
    if change.discount_codes:
        session.execute(
            sa.insert(OrderDiscountCode),
            [
                {"order_id": order_id, "code": use.code[:255], "amount": use.amount, "kind": use.kind}
                for use in change.discount_codes
            ],
        )
    session.expire_all()  # the ORM must see the rows the statements above wrote
    settle_order(session, order_id, previous_lines)
    return order_id


def _record_payment(session: Session, shop_id: int, change: OrderChange) -> None:
    """Keep the earliest payment time any description gave, whatever its version: an orders/paid that
    arrives after a newer orders/fulfilled (which does not say when) still dates the payment."""
    session.execute(
        sa.update(Order)
        .where(Order.shop_id == shop_id, Order.platform_order_id == change.platform_id)
        .where(sa.or_(Order.paid_at.is_(None), Order.paid_at > change.paid_at))
        .values(paid_at=change.paid_at)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class _CountedLine:
    product_id: str | None
    title: str
    quantity: int


def upsert_fulfillment(session: Session, shop_id: int, change: FulfillmentChange) -> int | None:
    now = utcnow()
    values = {
        "shop_id": shop_id,
        "platform_fulfillment_id": change.platform_id,
        "platform_order_id": change.order_platform_id,
        "status": change.status.value,
        "tracking_company": change.tracking_company,
        "tracking_number": change.tracking_number,
        "tracking_url": change.tracking_url,
        "shipped_at": change.shipped_at,
        "delivered_at": change.delivered_at,
        "source_updated_at": change.updated_at,
        "status_updated_at": change.updated_at,
        "created_at": now,
        "updated_at": now,
    }
    fixed = ("shop_id", "platform_fulfillment_id", "created_at", "updated_at", "status", "status_updated_at")
    update = tuple(k for k in values if k not in fixed)
    # A delivery step may have arrived first and already recorded delivery: keep that time.
    if change.delivered_at is None:
        update = tuple(k for k in update if k != "delivered_at")
    return _upsert(session, Fulfillment, values, ("shop_id", "platform_fulfillment_id"), update, newer_status=True)


def apply_delivery_progress(session: Session, shop_id: int, change: DeliveryProgress) -> int | None:
    """A tracking step changes the status only; if the fulfilment is not known yet, start it here.

    A row started here knows nothing of the parcel yet, so its description is dated at the epoch:
    the fulfilment that describes it, however old, still fills it in.
    """
    now = utcnow()
    values: dict[str, Any] = {
        "shop_id": shop_id,
        "platform_fulfillment_id": change.fulfillment_platform_id,
        "platform_order_id": change.order_platform_id,
        "status": change.status.value,
        "source_updated_at": EPOCH,
        "status_updated_at": change.happened_at,
        "created_at": now,
        "updated_at": now,
    }
    update: tuple[str, ...] = ("status", "status_updated_at")
    if change.status is FulfillmentStatus.DELIVERED:
        values["delivered_at"] = change.happened_at
        update += ("delivered_at",)
    key = ("shop_id", "platform_fulfillment_id")
    return _upsert(session, Fulfillment, values, key, update, newer_than="status_updated_at")


def apply_change(session: Session, shop_id: int, change: Change) -> None:
    """Apply one change from the event model."""
    match change:
        case OrderChange():
            upsert_order(session, shop_id, change)
        case CustomerChange():
            upsert_customer(session, shop_id, change)
        case CustomerDeleted():
            mark_customer_deleted(session, shop_id, change)
        case FulfillmentChange():
            upsert_fulfillment(session, shop_id, change)
        case DeliveryProgress():
            apply_delivery_progress(session, shop_id, change)
        case ConsentChange():
            apply_consent(session, shop_id, change)
