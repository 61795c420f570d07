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
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.batches import batch_cached
from integration.core.db import utcnow
from integration.customers.models import Customer, TimelineEntry
from integration.customers.statements import CUSTOMERS, TIMELINE, prepared
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


def shop_time_zone(session: Session, shop_id: int) -> str | None:
    return batch_cached(
        session, "shop time zone", shop_id, lambda: session.scalar(sa.select(Shop.time_zone).where(Shop.id == shop_id))
    )


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


def _find(session: Session, shop_id: int, change: CustomerChange) -> tuple[int, int] | None:
    """(profile id, how it was matched) for the profile this change is about: by platform id (0), then
    email (1), then (guests only) phone (2). One statement: a branch per way, each an index seek, the
    first way that matches winning (the lowest id within it)."""
    email = normalise_email(change.email)
    key = phone_key(change.phone)
    ways: tuple[int, ...] = (0,) if change.platform_id else ()
    ways += (1,) if email else ()
    ways += (2,) if key and change.platform_id is None else ()
    if not ways:
        return None
    claimed = change.platform_id is not None

    def build(_: Any) -> Any:
        conditions = {
            0: CUSTOMERS.c.platform_customer_id == sa.bindparam("platform_id"),
            # A profile holding another platform id is another person, whatever the email says.
            1: sa.and_(
                CUSTOMERS.c.email == sa.bindparam("email"),
                CUSTOMERS.c.platform_customer_id.is_(None) if claimed else sa.true(),
            ),
            2: CUSTOMERS.c.phone_key == sa.bindparam("phone_key"),
        }
        branches = [
            sa.select(CUSTOMERS.c.id, sa.literal(way).label("way")).where(
                CUSTOMERS.c.shop_id == sa.bindparam("shop_id"), conditions[way]
            )
            for way in ways
        ]
        union = sa.union_all(*branches).subquery()
        return sa.select(union.c.id, union.c.way).order_by(union.c.way, union.c.id).limit(1)

    shape = f"find customer:{ways}:{claimed}"
    params = {"shop_id": shop_id, "platform_id": change.platform_id, "email": email, "phone_key": key}
    found = session.execute(prepared(session, shape, build), params).first()
    return None if found is None else (int(found.id), int(found.way))


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
    values = _descriptive_values(change, shop_time_zone(session, shop_id))
    profile_id, way = _find_or_insert(session, shop_id, change, values, source_updated_at=change.updated_at)
    if way is not None:
        _update_profile(session, profile_id, change, values, by_platform_id=way == 0)
    if change.tags is not None:
        # Tags have their own clock: a customers/update without them (2025-01+) must not erase the
        # ones a reconciliation read, and an older read must not overwrite a newer one.
        session.execute(
            sa.update(CUSTOMERS)
            .where(
                CUSTOMERS.c.id == profile_id,
                sa.or_(CUSTOMERS.c.tags_at.is_(None), CUSTOMERS.c.tags_at <= change.updated_at),
            )
            .values(tags=json.dumps(list(change.tags)), tags_at=change.updated_at)
        )
    # The statements above are Core: a copy of the profile this session holds is reloaded on next use.
    held = session.identity_map.get(session.identity_key(Customer, profile_id))
    if held is not None:
        session.expire(held)
    return profile_id


def _find_or_insert(
    session: Session, shop_id: int, probe: CustomerChange, values: dict[str, Any], source_updated_at: dt.datetime
) -> tuple[int, int | None]:
    """(profile id, how it was found: see ``_find``; None if we created it). A concurrent insert of the
    same person makes ours a no-op; the next round finds theirs."""
    for _ in range(3):
        found = _find(session, shop_id, probe)
        if found is not None:
            return found
        now = utcnow()
        row = {
            "shop_id": shop_id,
            "platform_customer_id": probe.platform_id,
            "source_updated_at": source_updated_at,
            "created_at": now,
            "updated_at": now,
            **values,
        }
        statement = prepared(
            session,
            "insert customer:" + ",".join(row),
            lambda insert: insert(CUSTOMERS).on_conflict_do_nothing().returning(CUSTOMERS.c.id),
        )
        inserted = session.execute(statement, row).scalar()
        if inserted is not None:
            return int(inserted), None
    raise RuntimeError("customer profile kept changing while it was being matched")


def _update_profile(
    session: Session, profile_id: int, change: CustomerChange, values: dict[str, Any], *, by_platform_id: bool
) -> None:
    # The platform id joins a guest profile once the person has an account (a profile found by its
    # platform id has it already).
    if change.platform_id and not by_platform_id:
        session.execute(
            sa.update(CUSTOMERS)
            .where(CUSTOMERS.c.id == profile_id, CUSTOMERS.c.platform_customer_id.is_(None))
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
    row = {"source_updated_at": change.updated_at, "updated_at": utcnow(), **known}
    statement = prepared(
        session,
        "update customer:" + ",".join(row),
        lambda _: (
            sa.update(CUSTOMERS)
            .where(CUSTOMERS.c.id == sa.bindparam("profile_id"), CUSTOMERS.c.source_updated_at <= sa.bindparam("newer"))
            .values({name: sa.bindparam(f"v_{name}") for name in row})
        ),
    )
    session.execute(
        statement, {"profile_id": profile_id, "newer": change.updated_at, **{f"v_{k}": v for k, v in row.items()}}
    )
    fill_zone = prepared(
        session,
        "fill customer zone",
        lambda _: (
            sa.update(CUSTOMERS)
            .where(CUSTOMERS.c.id == sa.bindparam("profile_id"), CUSTOMERS.c.time_zone.is_(None))
            .values(time_zone=sa.bindparam("zone"), time_zone_source=sa.bindparam("source"))
        ),
    )
    session.execute(
        fill_zone, {"profile_id": profile_id, "zone": values["time_zone"], "source": values["time_zone_source"]}
    )


def add_timeline(session: Session, customer_id: int, kind: str, ref: str, at: dt.datetime, summary: str) -> bool:
    """Record one fact (or refresh its wording); True if it is new."""
    fact = {"customer_id": customer_id, "kind": kind, "ref": ref, "at": at, "summary": summary}
    insert = prepared(
        session, "add fact", lambda insert: insert(TIMELINE).on_conflict_do_nothing().returning(TIMELINE.c.id)
    )
    inserted = session.execute(insert, fact).scalar()
    if inserted is None:
        session.execute(
            sa.update(TimelineEntry)
            .where(TimelineEntry.customer_id == customer_id, TimelineEntry.kind == kind, TimelineEntry.ref == ref)
            .values(summary=summary, at=at)
        )
    return inserted is not None


def segment_expression(
    now: dt.datetime | sa.ColumnElement[dt.datetime] | None = None,
    lapses: sa.ColumnElement[dt.datetime] | None = None,
) -> sa.ColumnElement[str]:
    """The segment a profile is in at ``now`` from what it holds. Lapsed outranks VIP: a big spender
    who stopped ordering is the one to call. Stored per event and refreshed hourly (lapsing is time).

    ``lapses``: the lapse moment being written in the same UPDATE (its SET sees the old column)."""
    moment = now if isinstance(now, sa.ColumnElement) else sa.literal(now or utcnow(), CUSTOMERS.c.lapses_at.type)
    lapses_at = CUSTOMERS.c.lapses_at if lapses is None else lapses
    threshold = (
        sa.select(sa.func.coalesce(Shop.vip_threshold_override, Shop.vip_threshold))
        .where(Shop.id == Customer.shop_id)
        .scalar_subquery()
    )
    return sa.case(
        (Customer.orders_count <= 0, "prospect"),
        (sa.and_(lapses_at.is_not(None), lapses_at <= moment), "lapsed"),
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
