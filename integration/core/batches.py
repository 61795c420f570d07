"""What the events of one batch (a worker's job) read alike, read once for the batch.

A batch applies its events in one transaction on PostgreSQL and in a few short ones on SQLite; reads
of a shop's settings (its zone, check-in rules, email settings) are the same for every event of the
shop in it, so processing hands each of the batch's sessions one cache. Only reads of rows the event
path never writes are cached, so a transaction rolled back does not leave a cached value wrong; a
setting changed by the merchant while a batch runs applies from the next batch, as it would to a
batch that had read it first. Outside a batch (web requests, jobs, tests) nothing is cached.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")
_KEY = "batch_cache"


def share_batch_cache(session: Session, cache: dict[Any, Any]) -> None:
    """Make ``cache`` (one per batch) this session's batch cache."""
    session.info[_KEY] = cache


def batch_cached(session: Session, name: str, key: Hashable, load: Callable[[], T]) -> T:
    """``load()``, once per batch for this ``name`` and ``key`` (every time outside a batch)."""
    cache: dict[Any, Any] | None = session.info.get(_KEY)
    if cache is None:
        return load()
    space = cache.setdefault(name, {})
    if key not in space:
        space[key] = load()
    found: T = space[key]
    return found
