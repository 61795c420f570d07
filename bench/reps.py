"""Per-event cost of dedicated reps as a shop grows: assigning a rep and scheduling a check-in at 1k customers
and 7 reps against 100k customers and 700 reps, measured in one run (the small shop is the baseline).

Each shop has a database of its own, generated with bulk inserts (not events): reps in a mix of zones and
working hours with books about 86 % full (150 places each), customers with an order each and, for those with
a rep, a past check-in (a few still open), plus customers with no order yet (prospects). Each measured
event is one prospect's journey as a worker processes it, one transaction per event as processing runs it:

1. their first paid order: the order applied (``apply_change``), then the reps reaction (a rep assigned);
2. the parcel delivered: the fulfilment applied, then the reps reaction (a check-in opened and placed in the
   customer's window and the rep's hours).

It prints the median milliseconds per event of the reps reactions alone (what reps add to an event) and of
the whole event (apply + reactions), for both shops, and the ratios large/small (target <= 1.5).

This runs the domain code in one process, not through the Procfile's processes: the web edge and the RQ
relay cost the same whatever the shop's size (``bench.ingest`` measures the edge), and a worker's job is
exactly this transaction. The check-in's RQ job is enqueued after the commit (a constant Redis call);
without a Redis here it is skipped, as the sweep would cover it.

    make bench-reps        # or: python -m bench.reps [--events 150] [--database-url SMALL_URL LARGE_URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa

from integration.core.db import create_db_engine, make_session_factory, utcnow
from integration.core.migrate import upgrade
from integration.customers.models import Customer, Order
from integration.customers.upserts import apply_change
from integration.events.changes import (
    Address,
    CustomerChange,
    FulfillmentChange,
    FulfillmentStatus,
    OrderChange,
    OrderLineData,
    OrderStatus,
)
from integration.reps.hours import parse_hours
from integration.reps.models import CheckIn, CheckInOrder, Rep
from integration.reps.reactions import after_change
from integration.shops.models import Shop

T = TypeVar("T")
FILL = 0.9  # how full the generated books are
OPEN_SHARE = 0.03  # customers with a rep whose last check-in is still open
CAPACITY = 150
# (rep zone, working hours): a roster spread over a few offices and shifts.
SCHEDULES = [
    ("Europe/London", "Mon-Fri 09:00-17:00"),
    ("Europe/Berlin", "Mon-Fri 08:00-16:00"),
    ("America/New_York", "Mon-Fri 09:00-17:00"),
    ("America/Los_Angeles", "Mon-Fri 10:00-18:00"),
    ("America/Chicago", "Mon-Thu 08:00-18:00"),
    ("Australia/Sydney", "Mon-Fri 09:00-17:00"),
    ("Asia/Tokyo", "Mon-Fri 09:00-18:00"),
    ("Europe/London", "Sat-Sun 10:00-16:00; Mon 12:00-20:00"),
]
# Customer places (the zone comes from the address, as enrichment derives it).
PLACES = [
    (Address(city="London", country_code="GB"), "Europe/London"),
    (Address(city="Albany", region_code="NY", country_code="US"), "America/New_York"),
    (Address(city="Oakland", region_code="CA", country_code="US"), "America/Los_Angeles"),
    (Address(city="Sydney", region_code="NSW", country_code="AU"), "Australia/Sydney"),
    (Address(city="Berlin", country_code="DE"), "Europe/Berlin"),
]


@dataclass(frozen=True)
class Generated:
    shop_id: int
    prospects: list[str]  # platform customer ids of customers with no order yet


def populate(engine: sa.Engine, identifier: str, customers: int, reps: int, prospects: int) -> Generated:
    """A shop with ``reps`` reps, ``customers`` customers (``prospects`` of them without an order) and the
    history the others bring: an order each, a rep and a past check-in (a few still open)."""
    now = utcnow()
    rng = random.Random(identifier)
    with engine.begin() as connection:
        shop_id = connection.execute(
            sa.insert(Shop)
            .values(
                platform="shopify",
                identifier=identifier,
                state="active",
                webhook_token_hash="0" * 64,
                time_zone="Europe/London",
                created_at=now,
                updated_at=now,
            )
            .returning(Shop.id)
        ).scalar_one()
        first_rep = connection.execute(sa.select(sa.func.coalesce(sa.func.max(Rep.id), 0))).scalar_one() + 1
        connection.execute(
            sa.insert(Rep),
            [
                {
                    "shop_id": shop_id,
                    "name": f"Rep {r}",
                    "email": f"rep{r}@{identifier}",
                    "time_zone": SCHEDULES[r % len(SCHEDULES)][0],
                    "working_hours": parse_hours(SCHEDULES[r % len(SCHEDULES)][1]).to_json(),
                    "capacity": CAPACITY,
                    "book_size": 0,
                    "state": "active",
                    "created_at": now,
                    "updated_at": now,
                }
                for r in range(reps)
            ],
        )
        held = customers - prospects
        if held > reps * CAPACITY * FILL + reps:
            raise SystemExit(f"{held} customers do not fit {reps} books at {FILL:.0%}")
        base = connection.execute(sa.select(sa.func.coalesce(sa.func.max(Customer.id), 0))).scalar_one()
        rep_of = [first_rep + (i % reps) for i in range(held)]
        rows = []
        for i in range(customers):
            address, zone = PLACES[i % len(PLACES)]
            rows.append(
                {
                    "shop_id": shop_id,
                    "platform_customer_id": f"{identifier}-{i}",
                    "email": f"c{i}@{identifier}",
                    "first_name": "Bench",
                    "last_name": f"Customer {i}",
                    "city": address.city,
                    "country_code": address.country_code,
                    "region_code": address.region_code,
                    "time_zone": zone,
                    "time_zone_source": "address",
                    "orders_count": 1 if i < held else 0,
                    "total_spent": Decimal("30") if i < held else Decimal("0"),
                    "segment": ("vip" if i % 20 == 0 else "returning") if i < held else "prospect",
                    "rep_id": rep_of[i] if i < held else None,
                    "rep_assigned_at": now - dt.timedelta(days=60) if i < held else None,
                    "source_updated_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        for chunk in _chunks(rows, 10_000):
            connection.execute(sa.insert(Customer), list(chunk))
        for rep_id, size in _sizes(rep_of):
            connection.execute(sa.update(Rep).where(Rep.id == rep_id).values(book_size=size))
        first_order = connection.execute(sa.select(sa.func.coalesce(sa.func.max(Order.id), 0))).scalar_one() + 1
        orders = [
            {
                "shop_id": shop_id,
                "platform_order_id": f"h{i}",
                "customer_id": base + i + 1,
                "counted_customer_id": base + i + 1,
                "counted_total": Decimal("30"),
                "status": "fulfilled",
                "total_price": Decimal("30"),
                "placed_at": now - dt.timedelta(days=60),
                "source_updated_at": now - dt.timedelta(days=50),
                "created_at": now,
                "updated_at": now,
            }
            for i in range(held)
        ]
        for chunk in _chunks(orders, 10_000):
            connection.execute(sa.insert(Order), list(chunk))
        first_checkin = connection.execute(sa.select(sa.func.coalesce(sa.func.max(CheckIn.id), 0))).scalar_one() + 1
        checkins = []
        for i in range(held):
            still_open = rng.random() < OPEN_SHARE
            due = now + dt.timedelta(hours=rng.randrange(1, 96)) if still_open else now - dt.timedelta(days=45)
            checkins.append(
                {
                    "shop_id": shop_id,
                    "customer_id": base + i + 1,
                    "rep_id": rep_of[i],
                    "kind": "post_purchase",
                    "status": "scheduled" if still_open else "done",
                    "delivered_at": now - dt.timedelta(days=47),
                    "due_at": due,
                    "closed_at": None if still_open else due,
                    "close_reason": None if still_open else "reached",
                    "attempts": 0 if still_open else 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        for chunk in _chunks(checkins, 10_000):
            connection.execute(sa.insert(CheckIn), list(chunk))
        for chunk in _chunks(list(range(held)), 10_000):
            connection.execute(
                sa.insert(CheckInOrder),
                [{"checkin_id": first_checkin + i, "order_id": first_order + i} for i in chunk],
            )
    waiting = [f"{identifier}-{i}" for i in range(held, customers)]
    rng.shuffle(waiting)  # the journeys take prospects in no particular order
    return Generated(int(shop_id), waiting)


def _chunks(rows: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _sizes(rep_of: list[int]) -> list[tuple[int, int]]:
    sizes: dict[int, int] = {}
    for rep_id in rep_of:
        sizes[rep_id] = sizes.get(rep_id, 0) + 1
    return sorted(sizes.items())


def journey(platform_customer_id: str, number: int, place: int) -> tuple[OrderChange, FulfillmentChange]:
    at = utcnow()
    address, _zone = PLACES[place % len(PLACES)]
    order = OrderChange(
        platform_id=f"new-{number}", updated_at=at, status=OrderStatus.PAID, name=f"#{number}",
        email=None, currency="USD", total_price=Decimal("42.00"), placed_at=at,
        customer=CustomerChange(platform_customer_id, at, email=None, first_name="Bench", address=address),
        shipping_address=address,
        lines=(OrderLineData(title="Mug", quantity=1, product_id="p1"), OrderLineData(title="Tea", quantity=2)),
    )  # fmt: skip
    delivered = FulfillmentChange(
        platform_id=f"f-{number}", order_platform_id=f"new-{number}", updated_at=at,
        status=FulfillmentStatus.DELIVERED, shipped_at=at - dt.timedelta(days=2), delivered_at=at,
    )  # fmt: skip
    return order, delivered


@dataclass
class Timings:
    reps_ms: list[float]  # the reps reactions of both events
    event_ms: list[float]  # both events, whole (apply + reactions)


def run_events(engine: sa.Engine, generated: Generated, customers: list[str], seed: int) -> Timings:
    sessions = make_session_factory(engine)
    timings = Timings([], [])
    for n, customer in enumerate(customers):
        reps_s = whole_s = 0.0
        for change in journey(customer, seed * 1_000_000 + n, n):
            started = time.perf_counter()
            with sessions() as session, session.begin():
                apply_change(session, generated.shop_id, change)
                reacting = time.perf_counter()
                after_change(session, generated.shop_id, change)
                reps_s += time.perf_counter() - reacting
            whole_s += time.perf_counter() - started
        timings.reps_ms.append(reps_s * 1e3)
        timings.event_ms.append(whole_s * 1e3)
    return timings


def check(engine: sa.Engine, generated: Generated, customers: list[str]) -> str:
    """What the events did: every measured customer got a rep and one scheduled check-in, no book overflowed."""
    events = len(customers)
    mine = sa.and_(Customer.shop_id == generated.shop_id, Customer.platform_customer_id.in_(customers))
    with engine.connect() as connection:
        got_rep = connection.execute(sa.select(sa.func.count()).where(mine, Customer.rep_id.is_not(None))).scalar_one()
        opened = connection.execute(
            sa.select(sa.func.count())
            .select_from(CheckIn)
            .join(Customer, Customer.id == CheckIn.customer_id)
            .where(mine, CheckIn.status == "scheduled")
        ).scalar_one()
        over = connection.execute(
            sa.select(sa.func.count()).where(Rep.shop_id == generated.shop_id, Rep.book_size > Rep.capacity)
        ).scalar_one()
    if got_rep != events or opened != events or over:
        raise SystemExit(f"events did not do their work: {got_rep} assigned, {opened} check-ins, {over} books over")
    return f"{got_rep} assigned, {opened} check-ins scheduled"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=150, help="customer journeys measured per shop")
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument(
        "--database-url",
        nargs=2,
        metavar=("SMALL_URL", "LARGE_URL"),
        help="two other (empty) databases, e.g. PostgreSQL ones (default: two fresh SQLite files); migrated",
    )
    args = parser.parse_args()
    logging.getLogger("integration.reps.timers").setLevel(logging.ERROR)  # no Redis here: jobs not synced
    work = Path(tempfile.mkdtemp(prefix="pc-bench-reps-"))
    # One database per shop: a query that scans a whole table (every shop's rows) then shows in the ratio,
    # which it would not if both shops shared the tables.
    urls = args.database_url or [f"sqlite:///{work / 'small.db'}", f"sqlite:///{work / 'large.db'}"]
    engines = []
    warm = 20
    try:
        started = time.perf_counter()
        shops = {}
        for name, url, size in (("small", urls[0], args.small), ("large", urls[1], args.large)):
            upgrade(url)
            engine = create_db_engine(url)
            engines.append(engine)
            # Reps in proportion (1k / 7, 100k / 700), books about 90 % full; 10 % of customers prospects.
            prospects = max(size // 10, warm + args.events)
            shops[name] = (engine, populate(engine, f"{name}.myshopify.com", size, size * 7 // 1000, prospects))
            with engine.begin() as connection:
                connection.execute(sa.text("ANALYZE"))  # the planner's statistics, as a live database has them
        print(
            f"generated {args.small:,} customers / {args.small * 7 // 1000} reps and {args.large:,} customers / "
            f"{args.large * 7 // 1000} reps on {engines[0].dialect.name} in {time.perf_counter() - started:.1f}s"
        )
        for engine, generated in shops.values():  # warm-up (imports, caches, compiled statements)
            run_events(engine, generated, generated.prospects[:warm], seed=1)
        # Interleaved, one journey in each shop in turn: a machine whose load changes during the run
        # slows both alike, so the ratio stays honest.
        timings = {name: Timings([], []) for name in shops}
        for n in range(args.events):
            for name, (engine, generated) in shops.items():
                one = run_events(engine, generated, [generated.prospects[warm + n]], seed=1000 + n)
                timings[name].reps_ms += one.reps_ms
                timings[name].event_ms += one.event_ms
        results = {}
        for name, (engine, generated) in shops.items():
            results[name] = (statistics.median(timings[name].reps_ms), statistics.median(timings[name].event_ms))
            print(f"  {name}: {check(engine, generated, generated.prospects[: warm + args.events])}")
        (small_reps, small_event), (large_reps, large_event) = results["small"], results["large"]
        print(f"median per customer journey (order paid + parcel delivered), {args.events} journeys per shop:")
        print(f"{'':34}{'reps reactions':>16}{'whole events':>14}")
        for name, size in (("small", args.small), ("large", args.large)):
            label = f"{size:,} customers, {size * 7 // 1000} reps"
            print(f"{label:34}{results[name][0]:>13.2f} ms{results[name][1]:>11.2f} ms")
        print(f"ratio large/small: reps {large_reps / small_reps:.2f}, whole events {large_event / small_event:.2f}"
              "   (target <= 1.5)")  # fmt: skip
    finally:
        for engine in engines:
            engine.dispose()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
