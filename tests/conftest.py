"""Suite-wide fixtures: a real Redis per test process, SQLite and PostgreSQL databases, the app.

Database tests run once per backend (``database_url`` is parametrised). PostgreSQL is used when one
answers on 127.0.0.1:5432 (database ``test``, user ``postgres``), each xdist worker in its own schema;
otherwise those cases are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from integration import create_app, intake_of, runtime_of
from integration.core.config import Settings
from integration.core.db import load_models
from integration.core.migrate import upgrade
from integration.core.redis_server import EmbeddedRedis
from integration.core.runtime import Runtime
from integration.events.intake import EventIntake
from integration.shops.registry import RegisteredShop
from tests.helpers import (
    BIGCOMMERCE_SECRET,
    SHOPIFY_PREVIOUS_SECRET,
    SHOPIFY_SECRET,
    TEST_TOKEN_KEY,
    AppFactory,
    RuntimeFactory,
    add_shop,
)
from tests.sign_in import mount as mount_test_sign_in

# Fixtures shared across folders: the fake platforms and their clients, staff with sign-in, and the
# browser-test checks CI relies on.
pytest_plugins = ["tests.platform_fixtures", "tests.staff_fixtures", "tests.browser_check"]

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def short_tmp() -> Iterator[Path]:
    """A short private folder (unix socket paths must stay under ~100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix=f"pc-{_worker_id()}-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server(short_tmp: Path) -> Iterator[EmbeddedRedis]:
    """One real redis-server (the embedded one) per test process, stopped at the end."""
    server = EmbeddedRedis(short_tmp / "redis", persistent=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqlite_template(short_tmp: Path) -> Path:
    """A migrated SQLite file, copied for each test (migrating each time would be slow)."""
    path = short_tmp / "template.db"
    upgrade(f"sqlite:///{path}")
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated schema of our own in the test PostgreSQL, or a skip when none answers.

    The schema is named after the xdist worker *and* this process, so concurrent test sessions on
    one machine never share (or drop) each other's tables.
    """
    schema = f"pc_test_{_worker_id()}_{os.getpid()}"
    admin = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 2})
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"no PostgreSQL at {PG_ADMIN_URL} ({type(exc).__name__}); PostgreSQL cases skipped")
    url = f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    engine = sa.create_engine(url)
    tables = ", ".join(t.name for t in load_models().sorted_tables)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    engine.dispose()
    return url


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    with redis_server.client() as client:
        client.flushall()
    return redis_server.url


@pytest.fixture
def settings(tmp_path: Path, database_url: str, redis_url: str) -> Settings:
    return Settings(
        app_env="test",
        secret_key="test-secret-key",
        token_encryption_key=TEST_TOKEN_KEY,
        instance_path=tmp_path,
        database_url=database_url,
        redis_url=redis_url,
        shopify_api_key="test-api-key",
        shopify_api_secret=SHOPIFY_SECRET,
        shopify_api_secret_previous=SHOPIFY_PREVIOUS_SECRET,
        bigcommerce_client_id="test-client-id",
        bigcommerce_client_secret=BIGCOMMERCE_SECRET,
        bigcommerce_api_url="http://127.0.0.1:9",  # nothing listens: tests that call out set their fake
        job_timeout=30,
        max_attempts=3,
        log_level="WARNING",
    )


@pytest.fixture
def make_runtime(settings: Settings) -> Iterator[RuntimeFactory]:
    """Builds runtimes from the test's settings with some fields changed; closes them after the test."""
    made: list[Runtime] = []

    def build(**changes: Any) -> Runtime:
        made.append(Runtime.from_settings(settings.replace(**changes)))
        return made[-1]

    yield build
    for runtime in made:
        runtime.close()


@pytest.fixture
def runtime(make_runtime: RuntimeFactory) -> Runtime:
    return make_runtime()


@pytest.fixture
def make_app(settings: Settings) -> Iterator[AppFactory]:
    """Builds apps from the test's settings with some fields changed; closes them after the test.

    ``testing=False`` lets an unhandled exception become the 500 a platform would see, instead of
    propagating into the test.
    """
    made: list[Flask] = []

    def build(*, testing: bool = True, **changes: Any) -> Flask:
        app = create_app(settings.replace(**changes))
        app.testing = testing
        made.append(app)
        return app

    yield build
    for app in made:
        # The intake keeps a DBAPI connection of its own, which engine.dispose() would leave open.
        intake_of(app).close()
        runtime_of(app).close()


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    """The app with the test sign-in (``POST /_test/sign-in``), which only the suite ever mounts."""
    return mount_test_sign_in(make_app())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def app_runtime(app: Flask) -> Runtime:
    """The runtime inside ``app`` (same database and Redis as the requests it serves)."""
    return runtime_of(app)


@pytest.fixture
def intake(runtime: Runtime) -> Iterator[EventIntake]:
    intake = EventIntake(runtime.engine)
    yield intake
    intake._discard_connection()  # the intake keeps its DBAPI connection for the thread's lifetime


@pytest.fixture
def shop(runtime: Runtime) -> RegisteredShop:
    """The default Shopify shop (tests.helpers.SHOP_DOMAIN), registered and active."""
    return add_shop(runtime)
