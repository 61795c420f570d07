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

from integration.core.db import Base, utcnow
from integration.customers.models import Customer, Fulfillment, Order
from integration.customers.profiles import EPOCH, apply_consent, normalise_email, upsert_profile
from integration.customers.settling import WrittenOrder, cents, settle_order
from integration.customers.statements import ORDER_DISCOUNT_CODES, ORDER_LINES, ORDERS, prepared
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
    returning: tuple[str, ...] = ("id",),
) -> tuple[Any, ...] | None:
    """Insert or update one row; returns its ``returning`` columns, or None when the stored row is newer.

    ``newer_status``: ``status`` and ``status_updated_at`` follow their own clock (only a newer
    status replaces the stored one), whatever the row's other columns do. The statement is built once
    per shape (prepared) and executed with the values as parameters.
    """
    table: sa.Table = model.__table__  # type: ignore[assignment]

    def build(insert: Any) -> Any:
        stmt = insert(table)
        assignments: dict[str, Any] = {name: stmt.excluded[name] for name in update}
        assignments["updated_at"] = stmt.excluded["updated_at"]
        if newer_status:
            status_is_newer = table.c.status_updated_at <= stmt.excluded.status_updated_at
            for name in ("status", "status_updated_at"):
                assignments[name] = sa.case((status_is_newer, stmt.excluded[name]), else_=table.c[name])
        where = table.c[newer_than] <= stmt.excluded[newer_than] if newer_than else None
        stmt = stmt.on_conflict_do_update(index_elements=list(key), set_=assignments, where=where)
        return stmt.returning(*(table.c[name] for name in returning))

    shape = f"upsert {table.name}:{','.join(values)}|{','.join(key)}|{','.join(update)}|{newer_than}|{newer_status}"
    row = session.execute(prepared(session, f"{shape}|{','.join(returning)}", build), dict(values)).first()
    return None if row is None else tuple(row)


def _upsert_id(session: Session, model: type[Base], values: Mapping[str, Any], key: tuple[str, ...],
               update: tuple[str, ...], **options: Any) -> int | None:  # fmt: skip
    row = _upsert(session, model, values, key, update, **options)
    return None if row is None else int(row[0])


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


LINE_COLUMNS = ("platform_line_id", "product_id", "variant_id", "title", "sku", "quantity", "price")


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
    # paid_at is not overwritten by a newer description: the earliest payment time any gave is kept
    # (_record_payment).
    fixed = ("shop_id", "platform_order_id", "created_at", "updated_at", "paid_at")
    update = tuple(k for k in values if k not in fixed)
    # What the order counted until now comes back with the upsert (the counted columns are not in its SET).
    row = _upsert(
        session, Order, values, ("shop_id", "platform_order_id"), update,
        returning=("id", "counted_customer_id", "counted_total"),
    )  # fmt: skip
    if change.paid_at is not None:
        _record_payment(session, shop_id, change)
    if row is None:
        return None
    order_id = int(row[0])
    # The row is locked by our upsert now, so these are the lines that were counted, and nobody else
    # can count the new ones before we do. The change describes the whole order, so its lines replace
    # ours: the old ones are deleted and returned in one statement.
    delete = prepared(
        session,
        "delete order lines",
        lambda _: (
            sa.delete(ORDER_LINES)
            .where(ORDER_LINES.c.order_id == sa.bindparam("order_id"))
            .returning(ORDER_LINES.c.product_id, ORDER_LINES.c.title, ORDER_LINES.c.quantity)
        ),
    )
    previous_lines = [_CountedLine(*line) for line in session.execute(delete, {"order_id": order_id})]
    if change.lines:
        insert = prepared(session, "insert order lines", lambda _: sa.insert(ORDER_LINES))
        session.execute(
            insert,
            [{"order_id": order_id, **{name: getattr(line, name) for name in LINE_COLUMNS}} for line in change.lines],
        )
    # And its discount codes replace ours too.
    delete_codes = prepared(
        session,
        "delete order discount codes",
        lambda _: sa.delete(ORDER_DISCOUNT_CODES).where(ORDER_DISCOUNT_CODES.c.order_id == sa.bindparam("order_id")),
    )
    session.execute(delete_codes, {"order_id": order_id})
    if change.discount_codes:
        insert_codes = prepared(session, "insert order discount codes", lambda _: sa.insert(ORDER_DISCOUNT_CODES))
        session.execute(
            insert_codes,
            [
                {"order_id": order_id, "code": use.code[:255], "amount": use.amount, "kind": use.kind}
                for use in change.discount_codes
            ],
        )
    # ORM objects this session holds may predate the statements above (a later reaction reads them).
    session.expire_all()
    written = WrittenOrder(
        id=order_id,
        platform_order_id=change.platform_id,
        customer_id=customer_id,
        name=change.name,
        status=change.status.value,
        total_price=cents(change.total_price),
        currency=change.currency,
        placed_at=change.placed_at,
        cancelled_at=change.cancelled_at,
        source_updated_at=change.updated_at,
        lines=change.lines,
        counted_customer_id=row[1],
        counted_total=row[2],
    )
    settle_order(session, written, previous_lines)
    session.info.setdefault(_WRITTEN, {})[(shop_id, change.platform_id)] = (order_id, customer_id)
    return order_id


def _record_payment(session: Session, shop_id: int, change: OrderChange) -> None:
    """Keep the earliest payment time any description gave, whatever its version: an orders/paid that
    arrives after a newer orders/fulfilled (which does not say when) still dates the payment."""
    statement = prepared(
        session,
        "record order payment",
        lambda _: (
            sa.update(ORDERS)
            .where(
                ORDERS.c.shop_id == sa.bindparam("b_shop_id"),
                ORDERS.c.platform_order_id == sa.bindparam("b_platform_order_id"),
                sa.or_(ORDERS.c.paid_at.is_(None), ORDERS.c.paid_at > sa.bindparam("b_paid_at")),
            )
            .values(paid_at=sa.bindparam("b_paid_at"))
        ),
    )
    session.execute(
        statement, {"b_shop_id": shop_id, "b_platform_order_id": change.platform_id, "b_paid_at": change.paid_at}
    )


_WRITTEN = "written_orders"


def written_order(session: Session, shop_id: int, platform_order_id: str) -> tuple[int, int | None] | None:
    """(id, customer id) of the order as this transaction's upsert wrote it, for the reactions that follow
    (they would otherwise read it back); None if this transaction has not written it."""
    found: tuple[int, int | None] | None = session.info.get(_WRITTEN, {}).get((shop_id, platform_order_id))
    return found


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
    key = ("shop_id", "platform_fulfillment_id")
    return _upsert_id(session, Fulfillment, values, key, update, newer_status=True)


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
    return _upsert_id(session, Fulfillment, values, key, update, newer_than="status_updated_at")


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
