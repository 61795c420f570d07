"""Per-event cost of keeping profiles as a shop grows: 1k vs 100k customers, measured in one run.

Builds two shops on one SQLite database (generated customers, each with order history), then applies
the same number of order events to random existing customers of each and prints the median per-event
time and the ratio (target <= 1.5: profile upkeep must not rescan a customer's or the shop's history).

    python -m bench.profile_cost [--events 400] [--large 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from integration.core.db import create_db_engine, make_session_factory, utcnow
from integration.core.migrate import upgrade
from integration.customers.models import Customer, Order
from integration.customers.upserts import apply_change
from integration.events.changes import Address, CustomerChange, OrderChange, OrderLineData, OrderStatus
from integration.shops.models import Shop

HISTORY_ORDERS = 3  # orders each generated customer already has


def populate(engine: sa.Engine, identifier: str, customers: int) -> int:
    """A shop with ``customers`` profiles, each with HISTORY_ORDERS counted orders (bulk, not events)."""
    now = utcnow()
    with engine.begin() as connection:
        shop_id = connection.execute(
            sa.insert(Shop)
            .values(
                platform="shopify",
                identifier=identifier,
                state="active",
                webhook_token_hash="0" * 64,
                created_at=now,
                updated_at=now,
            )
            .returning(Shop.id)
        ).scalar_one()
        base = connection.execute(sa.select(sa.func.coalesce(sa.func.max(Customer.id), 0))).scalar_one()
        connection.execute(
            sa.insert(Customer),
            [
                {
                    "shop_id": shop_id,
                    "platform_customer_id": str(i),
                    "email": f"c{i}@{identifier}",
                    "orders_count": HISTORY_ORDERS,
                    "total_spent": Decimal("30"),
                    "segment": "returning",
                    "source_updated_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(customers)
            ],
        )
        connection.execute(
            sa.insert(Order),
            [
                {
                    "shop_id": shop_id,
                    "platform_order_id": f"h{i}-{k}",
                    "customer_id": base + i + 1,
                    "counted_customer_id": base + i + 1,
                    "counted_total": Decimal("10"),
                    "status": "paid",
                    "total_price": Decimal("10"),
                    "placed_at": now - dt.timedelta(days=k + 1),
                    "source_updated_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(customers)
                for k in range(HISTORY_ORDERS)
            ],
        )
    return int(shop_id)


def event(customer: int, number: int) -> OrderChange:
    at = utcnow()
    return OrderChange(
        platform_id=f"new-{number}", updated_at=at, status=OrderStatus.PAID, name=f"#{number}",
        email=None, currency="USD", total_price=Decimal("42.00"), placed_at=at,
        customer=CustomerChange(str(customer), at, email=None, first_name="Bench",
                                address=Address(city="Portland", region_code="OR", country_code="US")),
        lines=(OrderLineData(title="Mug", quantity=1, product_id="p1"), OrderLineData(title="Tea", quantity=2)),
    )  # fmt: skip


def per_event(engine: sa.Engine, shop_id: int, customers: int, events: int, seed: int) -> list[float]:
    sessions = make_session_factory(engine)
    rng = random.Random(seed)
    timings = []
    for n in range(events):
        change = event(rng.randrange(customers), seed * 1_000_000 + n)
        started = time.perf_counter()
        with sessions() as session, session.begin():
            apply_change(session, shop_id, change)
        timings.append(time.perf_counter() - started)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pc-bench-profile-"))
    url = f"sqlite:///{work / 'bench.db'}"
    upgrade(url)
    engine = create_db_engine(url)
    try:
        started = time.perf_counter()
        small = populate(engine, "small.myshopify.com", args.small)
        large = populate(engine, "large.myshopify.com", args.large)
        print(f"generated {args.small + args.large} customers with {HISTORY_ORDERS} orders each "
              f"in {time.perf_counter() - started:.1f}s")  # fmt: skip
        per_event(engine, small, args.small, 50, seed=1)  # warm-up
        results = {}
        for name, shop, size, seed in (("small", small, args.small, 2), ("large", large, args.large, 3)):
            results[name] = statistics.median(per_event(engine, shop, size, args.events, seed)) * 1e6
        print(f"median per order event: {args.small} customers {results['small']:.0f} us, "
              f"{args.large} customers {results['large']:.0f} us")  # fmt: skip
        print(f"ratio large/small: {results['large'] / results['small']:.2f}   (target <= 1.5)")
    finally:
        engine.dispose()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
