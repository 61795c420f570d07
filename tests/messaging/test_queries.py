"""The send-time re-check costs a fixed number of indexed lookups, whatever the shop's size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from integration.core.db import utcnow
from integration.core.runtime import Runtime
from integration.messaging.compose import MARKETING
from integration.messaging.contactable import blocked_reason
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


def check(runtime: Runtime, shop_id: int, customer_id: int) -> tuple[str | None, list[tuple[str, Any]]]:
    with runtime.session() as session, statements(runtime) as seen:
        reason = blocked_reason(
            session, shop_id, "c0@example.com", customer_id=customer_id, category=MARKETING, now=utcnow()
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
