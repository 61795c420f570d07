"""Customer profiles: one per person per shop, kept right as orders and customers change.

Identity: a platform customer id, else the normalised email, else (for guests) the phone digits.
Purchases: every order row remembers what it adds to whose totals (``counted_customer_id``,
``counted_total``); applying an order change subtracts that and adds the new contribution, so the cost
of an event does not grow with the customer's history or the shop's size.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.db import dialect_insert, utcnow
from integration.customers.models import Customer, CustomerProduct, Order, OrderLine, TimelineEntry
from integration.events.changes import Address, ConsentChange, CustomerChange, OrderStatus
from integration.shops.models import Shop

# Orders that count towards what a customer has spent: paid for and not given back. A pending
# order counts once it is paid; a cancelled or refunded one stops counting.
COUNTED = {
    OrderStatus.PAID.value,
    OrderStatus.PARTIALLY_FULFILLED.value,
    OrderStatus.FULFILLED.value,
    OrderStatus.PARTIALLY_REFUNDED.value,
}
# "Older than anything the platform will send": the date of data we have not really seen yet.
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NON_DIGITS = re.compile(r"\D+")
# Facts that are also counted on the profile, once each (the fact row is unique per order).
FACT_COUNTERS = {"order_cancelled": Customer.cancelled_count, "order_refunded": Customer.refunded_count}


def normalise_email(email: str | None) -> str | None:
    value = (email or "").strip().lower()
    return value if "@" in value else None


def phone_key(phone: str | None) -> str | None:
    """The digits of a phone number; too short to identify anyone -> None."""
    digits = _NON_DIGITS.sub("", phone or "")
    return digits if len(digits) >= 7 else None


def resolve_time_zone(address: Address | None, shop_time_zone: str | None) -> tuple[str | None, str]:
    """(zone, source): from the address when it can be known, else the shop's zone, marked so."""
    if address is not None and address.country_code:
        from integration.customers.timezones import zone_for_address

        zone = zone_for_address(address.country_code, address.region, address.region_code, address.postal_code)
        if zone:
            return zone, "address"
    return shop_time_zone, "shop"


def _find(session: Session, shop_id: int, change: CustomerChange) -> int | None:
    """The profile this change is about: by platform id, then email, then (guests only) phone."""
    email = normalise_email(change.email)
    queries = []
    if change.platform_id:
        queries.append(Customer.platform_customer_id == change.platform_id)
    if email:
        # A profile holding another platform id is another person, whatever the email says.
        unclaimed = sa.true() if change.platform_id is None else Customer.platform_customer_id.is_(None)
        queries.append(sa.and_(Customer.email == email, unclaimed))
    key = phone_key(change.phone)
    if key and change.platform_id is None:
        queries.append(Customer.phone_key == key)
    for condition in queries:
        found = session.scalar(
            sa.select(Customer.id).where(Customer.shop_id == shop_id, condition).order_by(Customer.id).limit(1)
        )
        if found is not None:
            return int(found)
    return None


def _descriptive_values(change: CustomerChange, shop_time_zone: str | None) -> dict[str, Any]:
    address = change.address or Address()
    zone, source = resolve_time_zone(change.address, shop_time_zone)
    return {
        "email": normalise_email(change.email),
        "first_name": change.first_name,
        "last_name": change.last_name,
        "phone": change.phone,
        "phone_key": phone_key(change.phone),
        "locale": change.locale,
        "city": address.city,
        "region": address.region,
        "region_code": address.region_code,
        "country_code": address.country_code,
        "postal_code": address.postal_code,
        "time_zone": zone,
        "time_zone_source": source,
    }


def upsert_profile(session: Session, shop_id: int, change: CustomerChange) -> int:
    """Apply a customer change to the right profile (creating it); returns the profile id.

    Data older than what the profile holds is not applied, but the profile is still found, so an
    order can always be attached to its person.
    """
    shop_zone = session.scalar(sa.select(Shop.time_zone).where(Shop.id == shop_id))
    values = _descriptive_values(change, shop_zone)
    profile_id, created = _find_or_insert(session, shop_id, change, values, source_updated_at=change.updated_at)
    if not created:
        _update_profile(session, profile_id, change, values)
    if change.tags is not None:
        # Tags have their own clock: a customers/update without them (2025-01+) must not erase the
        # ones a reconciliation read, and an older read must not overwrite a newer one.
        session.execute(
            sa.update(Customer)
            .where(
                Customer.id == profile_id,
                sa.or_(Customer.tags_at.is_(None), Customer.tags_at <= change.updated_at),
            )
            .values(tags=json.dumps(list(change.tags)), tags_at=change.updated_at)
        )
    return profile_id


def _find_or_insert(
    session: Session, shop_id: int, probe: CustomerChange, values: dict[str, Any], source_updated_at: dt.datetime
) -> tuple[int, bool]:
    """(profile id, whether we created it). A concurrent insert of the same person makes ours a
    no-op; the next round finds theirs."""
    for _ in range(3):
        found = _find(session, shop_id, probe)
        if found is not None:
            return found, False
        now = utcnow()
        inserted = session.execute(
            dialect_insert(session)(Customer)
            .values(
                shop_id=shop_id,
                platform_customer_id=probe.platform_id,
                source_updated_at=source_updated_at,
                created_at=now,
                updated_at=now,
                **values,
            )
            .on_conflict_do_nothing()
            .returning(Customer.id)
        ).scalar()
        if inserted is not None:
            return int(inserted), True
    raise RuntimeError("customer profile kept changing while it was being matched")


def _update_profile(session: Session, profile_id: int, change: CustomerChange, values: dict[str, Any]) -> None:
    # The platform id joins a guest profile once the person has an account.
    if change.platform_id:
        session.execute(
            sa.update(Customer)
            .where(Customer.id == profile_id, Customer.platform_customer_id.is_(None))
            .values(platform_customer_id=change.platform_id)
        )
    # An account change describes the whole customer (a missing address is no address); what an order
    # says about a guest only fills in what it knows (an order has no locale).
    if change.platform_id is not None:
        known = dict(values)
    else:
        known = {k: v for k, v in values.items() if v is not None or k in ("time_zone", "time_zone_source")}
    if change.platform_id is None:
        # A guest's email only fills a gap: matched by phone, the profile's own email stays.
        email = known.pop("email", None)
        if email:
            session.execute(
                sa.update(Customer).where(Customer.id == profile_id, Customer.email.is_(None)).values(email=email)
            )
    if values["time_zone_source"] == "shop":
        # A shop fallback never replaces a zone we derived from an address.
        known.pop("time_zone", None)
        known.pop("time_zone_source", None)
    session.execute(
        sa.update(Customer)
        .where(Customer.id == profile_id, Customer.source_updated_at <= change.updated_at)
        .values(source_updated_at=change.updated_at, updated_at=utcnow(), **known)
    )
    session.execute(
        sa.update(Customer)
        .where(Customer.id == profile_id, Customer.time_zone.is_(None))
        .values(time_zone=values["time_zone"], time_zone_source=values["time_zone_source"])
    )


def _contribution(order: Order) -> tuple[int | None, Decimal | None]:
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
    for (key, title), quantity in deltas.items():
        if quantity == 0:
            continue
        stmt = dialect_insert(session)(CustomerProduct).values(
            customer_id=customer_id, product_key=key, title=title, quantity=quantity
        )
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["customer_id", "product_key"],
                set_={"quantity": CustomerProduct.quantity + stmt.excluded.quantity, "title": stmt.excluded.title},
            )
        )


def settle_order(session: Session, order_id: int, previous_lines: Sequence[Any]) -> None:
    """Bring the profile totals in line with the order as it now stands.

    ``previous_lines`` are the lines the order had before this change (what was counted). Must run in
    the transaction that changed the order, after the change: the order row is locked by then.
    """
    order = session.execute(sa.select(Order).where(Order.id == order_id).with_for_update()).scalar_one()
    new_customer, new_total = _contribution(order)
    old_customer, old_total = order.counted_customer_id, order.counted_total
    products_then = _product_deltas(previous_lines, -1) if old_customer else Counter()
    products_now = _product_deltas(order.lines, +1) if new_customer else Counter()
    if old_customer == new_customer and old_total == new_total and products_then + products_now == Counter():
        _record_order_facts(session, order)
        return
    order.counted_customer_id, order.counted_total = None, None
    session.flush()
    if old_customer is not None:
        _add_to_profile(session, old_customer, order, -1, old_total or Decimal("0"))
        _apply_products(session, old_customer, products_then)
    order.counted_customer_id, order.counted_total = new_customer, new_total
    session.flush()
    if new_customer is not None:
        _add_to_profile(session, new_customer, order, +1, new_total or Decimal("0"))
        _apply_products(session, new_customer, products_now)
    _record_order_facts(session, order)
    for profile_id in {old_customer, new_customer, order.customer_id} - {None}:
        assert profile_id is not None
        refresh_segment(session, profile_id)


def _add_to_profile(session: Session, profile_id: int, order: Order, sign: int, amount: Decimal) -> None:
    placed = order.placed_at
    values: dict[str, Any] = {
        "orders_count": Customer.orders_count + sign,
        "total_spent": Customer.total_spent + sign * amount,
        "updated_at": utcnow(),
    }
    if order.currency:
        values["currency"] = order.currency
    if sign > 0 and placed is not None:
        values["first_order_at"] = sa.case(
            (sa.or_(Customer.first_order_at.is_(None), Customer.first_order_at > placed), placed),
            else_=Customer.first_order_at,
        )
        values["last_order_at"] = sa.case(
            (sa.or_(Customer.last_order_at.is_(None), Customer.last_order_at < placed), placed),
            else_=Customer.last_order_at,
        )
    elif sign < 0:
        # The order no longer counts: its dates may have been the first or last; an index seek over
        # this customer's counted orders says what they are now (no history scan).
        counted = sa.select(Order.placed_at).where(Order.counted_customer_id == profile_id)
        values["first_order_at"] = counted.with_only_columns(sa.func.min(Order.placed_at)).scalar_subquery()
        values["last_order_at"] = counted.with_only_columns(sa.func.max(Order.placed_at)).scalar_subquery()
    session.execute(sa.update(Customer).where(Customer.id == profile_id).values(**values))
    first, last, count = session.execute(
        sa.select(Customer.first_order_at, Customer.last_order_at, Customer.orders_count).where(
            Customer.id == profile_id
        )
    ).one()
    session.execute(
        sa.update(Customer).where(Customer.id == profile_id).values(lapses_at=lapse_moment(first, last, count))
    )


def lapse_moment(first: dt.datetime | None, last: dt.datetime | None, count: int) -> dt.datetime | None:
    """When someone with these orders has gone twice their usual interval without ordering."""
    if count < 2 or first is None or last is None or last <= first:
        return None
    return last + 2 * (last - first) / (count - 1)


def _record_order_facts(session: Session, order: Order) -> None:
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
                    sa.update(Customer).where(Customer.id == order.customer_id).values({counter: counter + 1})
                )


def add_timeline(session: Session, customer_id: int, kind: str, ref: str, at: dt.datetime, summary: str) -> bool:
    """Record one fact (or refresh its wording); True if it is new."""
    inserted = session.execute(
        dialect_insert(session)(TimelineEntry)
        .values(customer_id=customer_id, kind=kind, ref=ref, at=at, summary=summary)
        .on_conflict_do_nothing()
        .returning(TimelineEntry.id)
    ).scalar()
    if inserted is None:
        session.execute(
            sa.update(TimelineEntry)
            .where(TimelineEntry.customer_id == customer_id, TimelineEntry.kind == kind, TimelineEntry.ref == ref)
            .values(summary=summary, at=at)
        )
    return inserted is not None


def segment_expression(now: dt.datetime | None = None) -> sa.ColumnElement[str]:
    """The segment a profile is in at ``now`` from what it holds. Lapsed outranks VIP: a big spender
    who stopped ordering is the one to call. Stored per event and refreshed hourly (lapsing is time)."""
    moment = sa.literal(now or utcnow(), Customer.__table__.c.lapses_at.type)
    threshold = (
        sa.select(sa.func.coalesce(Shop.vip_threshold_override, Shop.vip_threshold))
        .where(Shop.id == Customer.shop_id)
        .scalar_subquery()
    )
    return sa.case(
        (Customer.orders_count <= 0, "prospect"),
        (sa.and_(Customer.lapses_at.is_not(None), Customer.lapses_at <= moment), "lapsed"),
        (sa.and_(threshold.is_not(None), Customer.total_spent >= threshold), "vip"),
        (Customer.orders_count == 1, "new"),
        else_="returning",
    )


def refresh_segment(session: Session, profile_id: int) -> None:
    session.execute(sa.update(Customer).where(Customer.id == profile_id).values(segment=segment_expression()))


def profile_for(session: Session, shop_id: int, platform_id: str | None, email: str | None, phone: str | None) -> int:
    """The profile of this platform customer, started empty if we have not heard of them yet.

    A started profile is dated at the epoch, so the customer's own record, whenever it arrives,
    fills it in; nothing here overwrites what a profile already holds.
    """
    probe = CustomerChange(platform_id=platform_id, updated_at=EPOCH, email=email, phone=phone)
    contact = {"email": normalise_email(email), "phone": phone, "phone_key": phone_key(phone)}
    return _find_or_insert(session, shop_id, probe, contact, source_updated_at=EPOCH)[0]


def apply_consent(session: Session, shop_id: int, change: ConsentChange) -> None:
    """Record what the platform says about one channel in the consent ledger, which keeps it only if it is
    news (newer than what we hold, not the echo of our own push) and derives the customer's state from it."""
    # Imported here: the ledger (messaging) builds on the customers' tables, not the other way round.
    from integration.messaging.ledger import PLATFORM_WEBHOOK, record

    profile_id = profile_for(session, shop_id, change.customer_platform_id, change.email, change.phone)
    record(
        session,
        shop_id,
        profile_id,
        change.channel.value,
        change.state,
        PLATFORM_WEBHOOK,
        occurred_at=change.updated_at,
    )
