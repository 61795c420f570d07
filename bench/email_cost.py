"""Rendering and queueing one thank-you email as a shop grows: 1k vs 100k customers, measured in one run.

Builds two shops (bench.profile_cost's generator: customers with order history), then times
``messaging.thankyou.schedule`` for recent orders of random customers of each: the template rendered in
the sandbox, the signed links made, the send-time checks, css-inline, the outbox INSERT and the commit.
Prints the median per email and the ratio (it must stay flat with shop size).

    python -m bench.email_cost [--emails 300] [--large 100000]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from bench.profile_cost import populate
from integration.core.config import Settings
from integration.core.db import create_db_engine, make_session_factory
from integration.core.migrate import upgrade
from integration.customers.models import Order
from integration.messaging import thankyou


def per_email(
    engine: sa.Engine, settings: Settings, shop_id: int, emails: int, seed: int, history: int = 0
) -> list[float]:
    """Time the thank-you of ``emails`` random customers' order number ``history`` (each queued once)."""
    sessions = make_session_factory(engine)
    with sessions() as session:
        order_ids = list(
            session.scalars(
                sa.select(Order.id).where(Order.shop_id == shop_id, Order.platform_order_id.like(f"%-{history}"))
            )
        )
    rng = random.Random(seed)
    timings = []
    for order_id in rng.sample(order_ids, emails):
        started = time.perf_counter()
        with sessions() as session, session.begin():
            queued = thankyou.schedule(session, settings, order_id)
        timings.append(time.perf_counter() - started)
        assert queued is not None
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emails", type=int, default=300)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pc-bench-email-"))
    url = f"sqlite:///{work / 'bench.db'}"
    settings = Settings(app_env="test", secret_key="bench-" * 8, instance_path=work, database_url=url,
                        mail_from="Shop <shop@example.com>")  # fmt: skip
    upgrade(url)
    engine = create_db_engine(url)
    try:
        small = populate(engine, "small.myshopify.com", args.small)
        large = populate(engine, "large.myshopify.com", args.large)
        per_email(engine, settings, small, 50, seed=1, history=1)  # warm-up, on other orders
        results = {}
        for name, shop, seed in (("small", small, 2), ("large", large, 3)):
            results[name] = statistics.median(per_email(engine, settings, shop, args.emails, seed)) * 1e3
        print(f"median per thank-you rendered and queued: {args.small} customers {results['small']:.2f} ms, "
              f"{args.large} customers {results['large']:.2f} ms")  # fmt: skip
        print(f"ratio large/small: {results['large'] / results['small']:.2f}")
    finally:
        engine.dispose()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
