"""Per-event cost of processing one event per job against a batch, in one process and one run.

Stores 2 x N Shopify order events (N/3 customers, so batches hold several events of one customer),
processes N of them one by one (``EventProcessor.process``: claim, read, apply, each its own
transaction, as a single event's job does) and N in batches of ``EVENT_BATCH``
(``process_batch``), and prints CPU and wall ms per event for both. RQ's own cost per job is not in
these figures (see ``make bench`` for the whole stack).

    python -m bench.batch_cost [--events 300] [--database-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from integration.core.queues import EVENT_BATCH

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--database-url", help="e.g. a database of its own on PostgreSQL (its tables are migrated)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pc-batch-cost-"))
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
    from integration.events.processing import EventProcessor
    from integration.shops.registry import register_shop

    settings = Settings.from_env()
    upgrade(settings.database_url, "head", settings.token_encryption_key)
    runtime = Runtime.from_settings(settings)
    shop = f"cost-{os.getpid()}.myshopify.com"
    with runtime.session() as session:
        register_shop(session, runtime.cipher, "shopify", shop, "token")
    intake = EventIntake(runtime.engine)
    order = json.loads((ROOT / "tests/fixtures/shopify/shopify_orders_create.json").read_bytes())
    ids = []
    customers = max(1, args.events // 3)
    for k in range(2 * args.events + EVENT_BATCH):
        customer = {**order["customer"], "id": 9000 + k % customers, "email": f"c{k % customers}@example.com"}
        body = json.dumps({**order, "id": 100 + k, "email": customer["email"], "customer": customer}).encode()
        key = f"{shop}-{k}"
        ids.append(intake.store(Delivery("shopify", shop, "orders/create", key, f"orders/create:{key}", body)).event_id)
    warm_up(runtime)
    processor = EventProcessor(runtime)
    processor.process_batch(ids[:EVENT_BATCH])  # first statements compiled, pools filled
    rest = ids[EVENT_BATCH:]
    single, batched = rest[: args.events], rest[args.events :]

    cpu, wall = time.process_time(), time.perf_counter()
    for event_id in single:
        processor.process(event_id)
    one = (1000 * (time.process_time() - cpu) / len(single), 1000 * (time.perf_counter() - wall) / len(single))
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, len(batched), EVENT_BATCH):
        processor.process_batch(batched[start : start + EVENT_BATCH])
    many = (1000 * (time.process_time() - cpu) / len(batched), 1000 * (time.perf_counter() - wall) / len(batched))
    print(f"{runtime.engine.dialect.name}, {args.events} order events each way, {customers} customers")
    print(f"one event at a time:       {one[0]:6.2f} CPU ms/event  {one[1]:6.2f} wall ms/event")
    print(f"batches of {EVENT_BATCH}:            {many[0]:6.2f} CPU ms/event  {many[1]:6.2f} wall ms/event")
    print(f"load average: {os.getloadavg()[0]:.1f}")
    intake._discard_connection()
    runtime.close()
    redis_server.stop()


if __name__ == "__main__":
    main()
