"""Prepared Core statements for the hot path (every order event).

Building ORM statements per event (their ``excluded`` columns, cache keys, ORM execution and session
synchronisation) was about half of an event's CPU; these are built once per dialect and executed with
parameters against the tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.db import dialect_insert
from integration.customers.models import Customer, CustomerProduct, Order, OrderDiscountCode, OrderLine, TimelineEntry

CUSTOMERS: sa.Table = Customer.__table__  # type: ignore[assignment]
ORDERS: sa.Table = Order.__table__  # type: ignore[assignment]
PRODUCTS: sa.Table = CustomerProduct.__table__  # type: ignore[assignment]
TIMELINE: sa.Table = TimelineEntry.__table__  # type: ignore[assignment]
ORDER_LINES: sa.Table = OrderLine.__table__  # type: ignore[assignment]
ORDER_DISCOUNT_CODES: sa.Table = OrderDiscountCode.__table__  # type: ignore[assignment]
_prepared: dict[tuple[str, str], Any] = {}


def prepared(session: Session, name: str, build: Callable[[Any], Any]) -> Any:
    """The statement ``name`` for this session's dialect, built once by ``build(dialect_insert)``."""
    dialect = session.get_bind().dialect.name
    key = (dialect, name)
    found = _prepared.get(key)
    if found is None:
        found = _prepared[key] = build(dialect_insert(session))
    return found
