"""The number of SQL statements an order event costs the worker stays within its budget.

An event's CPU is mostly the statements it sends (building, executing, reading back), so their count is
the figure that catches a regression without timing anything: a statement added to the hot path (a read
per event that could be per batch, an ORM read-back of what was just written) fails here.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import sqlalchemy as sa

from integration.core.runtime import Runtime
from integration.customers.models import Customer, CustomerProduct, Order
from integration.events.intake import EventIntake
from integration.events.processing import EventProcessor, Outcome
from integration.messaging.models import OutboxMessage
from integration.reps.roster import RepInput, add_rep
from integration.shops.registry import RegisteredShop
from tests.helpers import fixture_bytes, store_shopify_event

ORDER = json.loads(fixture_bytes("shopify/shopify_orders_create.json"))
# The most statements a paid order event may send: (a customer's first order: profile created, rep
# assigned, thank-you queued; a returning customer's order), for one event alone (its own transaction)
# and in a batch (shop settings read once per batch: its first event pays them).
# Before the hot path used prepared statements and per-batch reads: 51 and 46 in a batch.
# Then two more each: the payment time kept (UPDATE … paid_at) and the discount codes replaced (DELETE).
BUDGETS = {False: (36, 31), True: (36, 27)}


def paid_order(k: int, customer: int) -> bytes:
    """A real order (paid yesterday, not a test, not cancelled) of a customer in Kentucky (no consent
    needed for a thank-you there), three lines as in the fixture."""
    placed = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    address = {**ORDER["customer"]["default_address"], "country_code": "US", "province_code": "KY",
               "country": "United States", "province": "Kentucky", "zip": "40003", "city": "Louisville"}  # fmt: skip
    person = {**ORDER["customer"], "id": 9000 + customer, "email": f"c{customer}@example.com",
              "default_address": address}  # fmt: skip
    body = {**ORDER, "id": 100 + k, "email": person["email"], "customer": person, "test": False,
            "cancelled_at": None, "financial_status": "paid", "created_at": placed, "processed_at": placed,
            "updated_at": placed}  # fmt: skip
    return json.dumps(body).encode()


@pytest.mark.parametrize("batch", [False, True], ids=["alone", "batch"])
def test_an_order_event_stays_within_its_statement_budget(
    runtime: Runtime, intake: EventIntake, shop: RegisteredShop, monkeypatch: pytest.MonkeyPatch, batch: bool
) -> None:
    with runtime.session() as session:
        for name in ("ana", "ben"):
            rep = RepInput(name=name.title(), email=f"{name}@example.com", time_zone="America/New_York")
            add_rep(session, shop.id, rep)
    # Four customers' first orders, then each customer's second.
    ids = [store_shopify_event(intake, paid_order(k, k % 4), webhook_id=f"budget-{k}") for k in range(8)]
    processor = EventProcessor(runtime)
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    per_event: dict[int, int] = {}
    apply_in = processor._apply_in

    def counted(session: Any, ready: Any, **options: Any) -> None:
        before = statements[0]
        apply_in(session, ready, **options)
        per_event[ready.event_id] = statements[0] - before

    monkeypatch.setattr(processor, "_apply_in", counted)
    sa.event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        if batch:
            outcomes = processor.process_batch(ids)
        else:
            outcomes = {event_id: processor.process(event_id) for event_id in ids}
    finally:
        sa.event.remove(runtime.engine, "before_cursor_execute", count)
    assert outcomes == dict.fromkeys(ids, Outcome.DONE)
    # The events did the whole work: profiles counted, reps given, products kept, thank-yous queued.
    with runtime.session() as session:
        customers = session.execute(sa.select(Customer.orders_count, Customer.rep_id)).all()
        assert sorted(c.orders_count for c in customers) == [2, 2, 2, 2]
        assert all(c.rep_id is not None for c in customers)
        assert session.scalar(sa.select(sa.func.count()).select_from(Order)) == 8
        assert session.scalar(sa.select(sa.func.sum(CustomerProduct.quantity))) > 0
        assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 8
    first, repeat = [per_event[i] for i in ids[:4]], [per_event[i] for i in ids[4:]]
    first_budget, repeat_budget = BUDGETS[batch]
    assert max(first) <= first_budget, first
    assert max(repeat) <= repeat_budget, repeat
