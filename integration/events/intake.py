"""Durable intake of webhook deliveries: the only database work on the request path.

A platform retries anything we do not answer with a 2xx within seconds, and our answer promises the
event is safe. So the request path does the least that makes a delivery durable: one prepared
``INSERT … ON CONFLICT DO NOTHING`` through the driver on a connection the process keeps, committed
before we answer. Handing events to RQ happens elsewhere, in batches (see ``integration.events.dispatch``);
one ``enqueue`` per request would cost more than everything else in the request together.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.pool import PoolProxiedConnection

from integration.core.db import utcnow
from integration.events.models import EventStatus, WebhookEvent, dedupe_key
from integration.shops.models import Shop, ShopState


class StorageUnavailable(Exception):
    """The database could not store the delivery: the caller answers 503 so the platform retries."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One verified delivery, as it will be stored."""

    platform: str
    shop: str
    topic: str
    webhook_id: str
    dedupe_key: str  # the delivery's own key, stored in ``namespace`` (models.dedupe_key)
    body: bytes
    delivery_id: str | None = None
    event_id: str | None = None
    api_version: str | None = None
    triggered_at: dt.datetime | None = None
    subscription_name: str | None = None
    # Set for topics we store but do not process: the row is born ``ignored`` and never queued.
    ignored_reason: str | None = None
    # Who wrote it: a webhook, or a platform callback stored as an event (BigCommerce's uninstall).
    namespace: str = "webhook"


@dataclass(frozen=True, slots=True)
class Stored:
    event_id: int
    duplicate: bool


class _Prepared:
    """A SQLAlchemy statement compiled once for one dialect, executed straight on a DBAPI cursor.

    The column types' own bind processors are applied, so values are stored exactly as the ORM would
    store them (for example UTC datetimes on SQLite).
    """

    def __init__(self, statement: sa.Executable, dialect: Dialect, table: sa.Table) -> None:
        compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        self.sql = str(compiled)
        # Binds that already carry a value in the statement are sent as they are.
        self._defaults: dict[str, Any] = dict(compiled.params)
        names: list[str] = list(compiled.positiontup) if compiled.positiontup is not None else list(compiled.binds)
        self._positional = compiled.positiontup is not None
        self._binds: list[tuple[str, Callable[[Any], Any] | None]] = []
        for name in names:
            column_name = compiled.binds[name].key
            processor = table.c[column_name].type.bind_processor(dialect) if column_name in table.c else None
            self._binds.append((name, processor))

    def params(self, values: Mapping[str, Any]) -> Any:
        defaults = self._defaults
        bound = [
            (name, processor(v) if processor is not None and v is not None else v)
            for name, processor in self._binds
            for v in (values[name] if name in values else defaults[name],)
        ]
        if self._positional:
            return tuple(v for _, v in bound)
        return dict(bound)


_INSERT_COLUMNS = (
    "platform",
    "shop",
    "topic",
    "webhook_id",
    "dedupe_key",
    "delivery_id",
    "event_id",
    "api_version",
    "triggered_at",
    "subscription_name",
    "body",
    "status",
    "attempts",
    "duplicates",
    "last_error",
    "received_at",
    "processed_at",
)


_DELIVERY_FIELDS = tuple(f.name for f in fields(Delivery))

# Waiting for SQLite's write lock: first wait, longest single wait, and when to give up (then 503).
BUSY_FIRST_WAIT = 0.0002
BUSY_MAX_WAIT = 0.02
BUSY_TIMEOUT = 5.0
_SQLITE_BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED


def _is_busy(exc: Exception) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in _SQLITE_BUSY_CODES


class EventIntake:
    """Stores deliveries; one instance per process, one DBAPI connection per thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._local = threading.local()
        self._dbapi_error: type[Exception] = engine.dialect.loaded_dbapi.Error
        dialect = engine.dialect
        events: sa.Table = WebhookEvent.__table__  # type: ignore[assignment]
        shops: sa.Table = Shop.__table__  # type: ignore[assignment]
        insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
        self._insert = _Prepared(
            insert(events)
            .values({name: sa.bindparam(name) for name in _INSERT_COLUMNS})
            .on_conflict_do_nothing()
            .returning(events.c.id),
            dialect,
            events,
        )
        # A repeat can match one row by dedupe key and another by delivery id: it is counted once,
        # on the first.
        first_match = (
            sa.select(sa.func.min(events.c.id))
            .where(
                events.c.platform == sa.bindparam("platform"),
                events.c.shop == sa.bindparam("shop"),
                sa.or_(
                    events.c.dedupe_key == sa.bindparam("dedupe_key"),
                    events.c.delivery_id == sa.bindparam("delivery_id"),
                ),
            )
            .scalar_subquery()
        )
        self._count_duplicate = _Prepared(
            sa.update(events)
            .where(events.c.id == first_match)
            # A literal, not a bind: psycopg's paramstyle mangles the name of an anonymous bind.
            .values(duplicates=events.c.duplicates + sa.literal_column("1"))
            .returning(events.c.id),
            dialect,
            events,
        )
        self._token_hash = _Prepared(
            sa.select(shops.c.webhook_token_hash).where(
                shops.c.platform == sa.bindparam("platform"),
                shops.c.identifier == sa.bindparam("identifier"),
                shops.c.state == sa.bindparam("state"),
            ),
            dialect,
            shops,
        )

    def _connection(self) -> PoolProxiedConnection:
        connection: PoolProxiedConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._engine.raw_connection()
            if self._sqlite:
                cursor = connection.cursor()
                # SQLite's own busy handler sleeps 1, 2, 5, 10… ms; the write lock is held for tens of
                # microseconds, so we wait in much smaller steps ourselves (see _run).
                cursor.execute("PRAGMA busy_timeout=0")
                # WAL auto-checkpoints stay on. Off, the server measured ~10 % faster, but the WAL would
                # then grow until some other process checkpoints, and every insert slows as it grows.
                cursor.close()
            self._local.connection = connection
        return connection

    def _discard_connection(self) -> None:
        connection: PoolProxiedConnection | None = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            # The connection is already broken; dropping it is the point, whatever invalidate says.
            with contextlib.suppress(Exception):
                connection.invalidate()

    def _run(self, prepared: _Prepared, values: Mapping[str, Any], *, write: bool) -> list[Any]:
        params = prepared.params(values)
        delay, deadline = BUSY_FIRST_WAIT, time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                return self._execute(prepared.sql, params, write=write)
            except self._dbapi_error as exc:
                if _is_busy(exc) and time.monotonic() < deadline:
                    time.sleep(delay)
                    delay = min(delay * 2, BUSY_MAX_WAIT)
                    continue
                self._discard_connection()
                raise StorageUnavailable(type(exc).__name__) from exc

    def _execute(self, sql: str, params: Any, *, write: bool) -> list[Any]:
        connection = self._connection()
        cursor = connection.cursor()
        try:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        except BaseException:
            connection.rollback()
            raise
        finally:
            cursor.close()
        if write:
            connection.commit()
        else:
            connection.rollback()  # end the read transaction; keeps SQLite from pinning a snapshot
        return list(rows)

    def close(self) -> None:
        """Give this thread's connection back (tests, and processes shutting down cleanly)."""
        connection: PoolProxiedConnection | None = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    def store(self, delivery: Delivery) -> Stored:
        """Store ``delivery`` durably; a repeat is counted on the first row instead of stored again."""
        now = utcnow()
        values = {name: getattr(delivery, name) for name in _DELIVERY_FIELDS}
        ignored_reason = values.pop("ignored_reason")
        values.update(
            dedupe_key=dedupe_key(values.pop("namespace"), delivery.dedupe_key),
            status=EventStatus.IGNORED.value if ignored_reason else EventStatus.RECEIVED.value,
            attempts=0,
            duplicates=0,
            last_error=ignored_reason,
            received_at=now,
            processed_at=now if ignored_reason else None,
        )
        keys = {k: values[k] for k in ("platform", "shop", "dedupe_key", "delivery_id")}
        # Twice at most: the insert can only find a conflict that the update then misses if an
        # operator deleted the row in between.
        for _ in range(2):
            rows = self._run(self._insert, values, write=True)
            if rows:
                return Stored(event_id=rows[0][0], duplicate=False)
            rows = self._run(self._count_duplicate, keys, write=True)
            if rows:
                return Stored(event_id=rows[0][0], duplicate=True)
        raise StorageUnavailable("conflicting row vanished twice")

    def webhook_token_hash(self, platform: str, identifier: str) -> str | None:
        """The stored token hash of an active shop, or None when we do not know the shop."""
        rows = self._run(
            self._token_hash,
            {"platform": platform, "identifier": identifier, "state": ShopState.ACTIVE.value},
            write=False,
        )
        return str(rows[0][0]) if rows else None
