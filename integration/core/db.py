"""Engine and session creation, and the column types every model shares."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 5000


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no time zone type, so values are stored as naive UTC and handed back aware; PostgreSQL
    gets ``timestamptz``. Naive datetimes are refused rather than guessed at.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime()}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web process append while workers read; synchronous=NORMAL in WAL mode is still
    # crash-safe for the database (a power cut can lose the last commits, not corrupt the file).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _ensure_sqlite_folder(url: str) -> None:
    # SQLite creates the file but not its folder. The default file lives in instance/, which nothing
    # else makes when the keys come from the environment: whoever opens the database makes the folder.
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        # One that cannot be made (a file in the way, no permission) is left to connecting to report.
        with contextlib.suppress(OSError):
            Path(database).parent.mkdir(parents=True, exist_ok=True)


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys (and the
    folder of its file, if missing).

    ``hide_parameters``: a statement's bound values are customers' emails, names and addresses, and
    SQLAlchemy puts them in every error message it raises; those messages end up in logs.
    """
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        _ensure_sqlite_folder(url)
        kwargs.setdefault("connect_args", {})["timeout"] = SQLITE_BUSY_TIMEOUT_MS / 1000
        engine = sa.create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def dialect_insert(session: Session) -> Any:
    """The dialect's INSERT (PostgreSQL's or SQLite's), for ON CONFLICT: both databases spell it alike."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


# Each domain keeps its own tables; Alembic and the tests need them all on one MetaData. Named by dotted
# path (as blueprints and jobs are) so core/ never imports the domains above it.
MODEL_MODULES = (
    "integration.shops.models",
    "integration.events.models",
    "integration.customers.models",
    "integration.sync.models",
    "integration.reps.models",
    "integration.messaging.models",
    "integration.ops.models",
)


def load_models() -> sa.MetaData:
    """Import every domain's models and return the one MetaData that holds all tables."""
    import importlib

    for module in MODEL_MODULES:
        importlib.import_module(module)
    return Base.metadata


def rows_changed(result: Any) -> int:
    """Rows an UPDATE or DELETE touched (``Session.execute`` is typed as returning a plain Result)."""
    return int(cast("sa.CursorResult[Any]", result).rowcount or 0)
