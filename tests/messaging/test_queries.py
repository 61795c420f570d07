"""The send-time re-check costs a fixed number of indexed lookups, whatever the shop's size (on SQLite and,
for the "monthly" look at a customer's last marketing email, on PostgreSQL too)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from integration.core.db import utcnow
from integration.core.runtime import Runtime
from integration.messaging.compose import MARKETING
from integration.messaging.contactable import blocked_reason
from integration.messaging.models import CustomerPreferences, OutboxMessage
from integration.messaging.sending import suppress
from tests.helpers import add_customer, add_shop


@contextmanager
def statements(runtime: Runtime) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen.append((statement, parameters))

    sa.event.listen(runtime.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(runtime.engine, "before_cursor_execute", record)


def plans(runtime: Runtime, seen: list[tuple[str, Any]]) -> list[str]:
    """SQLite's plan of each statement, one line per step."""
    found = []
    with runtime.engine.connect() as conn:
        for statement, parameters in seen:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            found.extend(str(row[-1]) for row in rows)
    return found


def pg_plans(runtime: Runtime, seen: list[tuple[str, Any]]) -> list[str]:
    """PostgreSQL's plan of each statement, with sequential scans priced out: what remains is an index
    that serves the statement, or a sequential scan when none can (a small test table would otherwise
    be scanned whatever its indexes)."""
    found = []
    with runtime.engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in seen:
            found.extend(str(row[0]) for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters).all())
        conn.rollback()
    return found


def check(
    runtime: Runtime, shop_id: int, customer_id: int, recipient: str = "c0@example.com"
) -> tuple[str | None, list[tuple[str, Any]]]:
    with runtime.session() as session, statements(runtime) as seen:
        reason = blocked_reason(
            session, shop_id, recipient, customer_id=customer_id, category=MARKETING, now=utcnow(), outbox_id=0
        )
    return reason, [s for s in seen if s[0].lstrip().upper().startswith("SELECT")]


def test_the_send_time_recheck_is_four_indexed_lookups_however_big_the_shop(runtime: Runtime) -> None:
    shop = add_shop(runtime)
    first = add_customer(runtime, shop.id, "0", email="c0@example.com", country_code="US")
    reason, small = check(runtime, shop.id, first)
    assert reason is None
    with runtime.session() as session:
        for n in range(1, 300):
            suppress(session, shop.id, f"other{n}@example.com", "test")
    for n in range(1, 300):
        add_customer(runtime, shop.id, str(n), email=f"c{n}@example.com")
    reason, big = check(runtime, shop.id, first)
    assert reason is None
    assert len(small) == len(big) == 4
    if runtime.engine.dialect.name == "sqlite":
        steps = plans(runtime, big)
        assert steps and all(step.startswith("SEARCH") for step in steps), steps


def sent_marketing(runtime: Runtime, shop_id: int, customer_id: int, days_ago: int, n: int) -> None:
    with runtime.session() as session:
        at = utcnow() - dt.timedelta(days=days_ago)
        session.add(
            OutboxMessage(
                shop_id=shop_id, dedupe_key=f"sent-{customer_id}-{n}", template="thank_you", recipient="x@example.com",
                subject="Thanks", text_body="Thanks", status="sent", customer_id=customer_id, category=MARKETING,
                last_attempt_at=at, sent_at=at,
            )
        )  # fmt: skip


def test_the_monthly_check_is_one_more_lookup_on_the_customers_sends_index(runtime: Runtime) -> None:
    shop = add_shop(runtime)
    monthly = add_customer(runtime, shop.id, "m", email="m@example.com", country_code="US")
    with runtime.session() as session:
        session.add(CustomerPreferences(customer_id=monthly, shop_id=shop.id, frequency="monthly"))
    sent_marketing(runtime, shop.id, monthly, days_ago=40, n=0)  # too long ago to count
    for n in range(1, 200):  # other customers' mail, every one of it recent
        other = add_customer(runtime, shop.id, f"o{n}", email=f"o{n}@example.com")
        sent_marketing(runtime, shop.id, other, days_ago=1, n=n)
    reason, seen = check(runtime, shop.id, monthly, "m@example.com")
    assert reason is None
    assert len(seen) == 5
    [lookup] = [statement for statement in seen if "FROM outbox" in statement[0]]
    if runtime.engine.dialect.name == "sqlite":
        steps = plans(runtime, [lookup])
        assert any("USING INDEX ix_outbox_customer_sends" in step for step in steps), steps
        assert all(step.startswith("SEARCH") for step in steps), steps
    else:
        steps = pg_plans(runtime, [lookup])
        assert any("ix_outbox_customer_sends" in step for step in steps), steps
        assert not any("Seq Scan" in step for step in steps), steps

    sent_marketing(runtime, shop.id, monthly, days_ago=3, n=1)
    reason, _ = check(runtime, shop.id, monthly, "m@example.com")
    assert reason == "customer chose monthly: a marketing email went to them in the last 30 days"
