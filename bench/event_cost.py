"""What one event costs the worker: CPU ms and SQL statements per event, in one process.

Stores N Shopify webhooks in ``make bench``'s mix (``bench.load.build``: orders/create, orders/paid,
fulfillment_events/create over 4 shops and N/3 customers, 10 % exact repeats stored once), the orders
made real ones by ``bench.load.real_order`` (paid yesterday, not test, not cancelled: counted on the profile,
a rep assigned from the shop's 3 reps, a thank-you queued), then processes
them in batches of ``EVENT_BATCH`` as the events worker does (``process_batch``) and prints CPU ms per
event (``time.process_time``: robust to a busy shared machine) and the statements sent to the database
per event (a SQLAlchemy ``before_cursor_execute`` listener), overall and by topic. ``--profile FILE``
writes a pyinstrument profile (HTML for *.html, else text) of the measured batches (``pip install pyinstrument``).

    python -m bench.event_cost [--events 500] [--database-url postgresql+psycopg://…] [--profile out.html]
"""

from __future__ import annotations

import argparse
import collections
import importlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.load import build
from bench.reps import SCHEDULES
from integration.core.queues import EVENT_BATCH

SHOPS = 4
REPS = 3  # per shop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--database-url", help="e.g. a database of its own on PostgreSQL (its tables are migrated)")
    parser.add_argument("--profile", help="write a pyinstrument HTML profile here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pc-event-cost-"))
    from integration.core.redis_server import EmbeddedRedis

    redis_server = EmbeddedRedis(work / "redis", socket_path=Path(tempfile.mkdtemp()) / "r.sock").start()
    os.environ.update(
        INSTANCE_PATH=str(work),
        DATABASE_URL=args.database_url or f"sqlite:///{work / 'cost.db'}",
        REDIS_URL=redis_server.url,
        LOG_LEVEL="WARNING",
    )
    from integration.core.config import Settings
    from integration.core.migrate import upgrade
    from integration.core.runtime import Runtime
    from integration.core.worker import warm_up
    from integration.events.intake import Delivery, EventIntake
    from integration.events.models import WebhookEvent
    from integration.events.processing import EventProcessor
    from integration.reps.hours import parse_hours
    from integration.reps.models import Rep
    from integration.shops.registry import register_shop

    settings = Settings.from_env()
    upgrade(settings.database_url, "head", settings.token_encryption_key)
    runtime = Runtime.from_settings(settings)
    shops = [f"cost-{os.getpid()}-{k}.myshopify.com" for k in range(SHOPS)]
    with runtime.session() as session:
        for shop in shops:
            shop_id = register_shop(session, runtime.cipher, "shopify", shop, "token").id
            for r in range(REPS):
                zone, hours = SCHEDULES[r % len(SCHEDULES)]
                session.add(Rep(shop_id=shop_id, name=f"Rep {r}", email=f"rep{r}@{shop}", time_zone=zone,
                                working_hours=parse_hours(hours).to_json()))  # fmt: skip
    intake = EventIntake(runtime.engine)
    # A warm-up batch first (statements compiled, pools filled), then the measured ones.
    plan: dict[str, Any] = {
        "seed": 7, "n": args.events + EVENT_BATCH, "shopify_secret": "s", "bc_stores": [],
        "shopify_shops": shops, "customers": max(1, args.events // 3),
    }  # fmt: skip
    ids: list[int] = []
    for _, body, headers in build(plan):
        stored = intake.store(
            Delivery("shopify", headers["X-Shopify-Shop-Domain"], headers["X-Shopify-Topic"],
                     headers["X-Shopify-Webhook-Id"], headers["X-Shopify-Webhook-Id"], body)
        )  # fmt: skip
        if not stored.duplicate:
            ids.append(stored.event_id)
    warm_up(runtime)
    processor = EventProcessor(runtime)
    processor.process_batch(ids[:EVENT_BATCH])
    measured = ids[EVENT_BATCH:]
    with runtime.session() as session:
        query = sa.select(WebhookEvent.id, WebhookEvent.topic).where(WebhookEvent.id.in_(measured))
        topics = {row.id: row.topic for row in session.execute(query)}

    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    sa.event.listen(runtime.engine, "before_cursor_execute", count)
    # Statements each event's own changes and reactions sent (the batch's claim, read and commit aside).
    by_topic: dict[str, list[int]] = collections.defaultdict(list)
    apply_in = processor._apply_in

    def counted_apply_in(session: Any, ready: Any, **options: Any) -> None:
        before = statements[0]
        apply_in(session, ready, **options)
        by_topic[topics[ready.event_id]].append(statements[0] - before)

    processor._apply_in = counted_apply_in  # type: ignore[method-assign]
    profiler = None
    if args.profile:
        # Not a dependency of the project: installed by whoever profiles (imported by name for the type checker).
        profiler = importlib.import_module("pyinstrument").Profiler()
        profiler.start()
    cpu, wall = time.process_time(), time.perf_counter()
    outcomes: collections.Counter[str] = collections.Counter()
    for start in range(0, len(measured), EVENT_BATCH):
        outcomes.update(o.value for o in processor.process_batch(measured[start : start + EVENT_BATCH]).values())
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if profiler is not None:
        profiler.stop()
        html = args.profile.endswith(".html")
        Path(args.profile).write_text(profiler.output_html() if html else profiler.output_text(show_all=False))
    total = statements[0]
    n = len(measured)
    print(f"{runtime.engine.dialect.name}, {n} Shopify events ({dict(collections.Counter(topics.values()))}), "
          f"{plan['customers']} customers, {SHOPS} shops; outcomes {dict(outcomes)}")  # fmt: skip
    print(f"batches of {EVENT_BATCH}: {1000 * cpu / n:6.2f} CPU ms/event  {1000 * wall / n:6.2f} wall ms/event  "
          f"{total / n:5.1f} statements/event")  # fmt: skip
    for topic, counts in sorted(by_topic.items()):
        print(f"  {topic:28} {sum(counts) / len(counts):5.1f} statements/event applying it (max {max(counts)})")
    from integration.customers.models import Customer
    from integration.messaging.models import OutboxMessage

    with runtime.session() as session:
        assigned = session.scalar(sa.select(sa.func.count()).where(Customer.rep_id.is_not(None)))
        queued = session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
    print(f"  profiles with a rep: {assigned}, thank-yous queued: {queued}")
    print(f"load average: {os.getloadavg()[0]:.1f}")
    sa.event.remove(runtime.engine, "before_cursor_execute", count)
    intake._discard_connection()
    runtime.close()
    redis_server.stop()


if __name__ == "__main__":
    main()
