"""Liveness and readiness probes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from integration import create_app, intake_of, runtime_of
from integration.core.config import Settings

NO_REDIS = "unix:///tmp/nonexistent.sock"
MakeApp = Callable[..., Flask]


@pytest.fixture
def make_app(settings: Settings) -> Iterator[MakeApp]:
    made: list[Flask] = []

    def make(**changes: object) -> Flask:
        app = create_app(settings.replace(**changes))
        app.testing = True
        made.append(app)
        return app

    yield make
    for app in made:
        intake_of(app)._discard_connection()
        runtime = runtime_of(app)
        runtime.engine.dispose()
        if runtime._redis is not None:
            runtime._redis.close()


def unreachable_database(settings: Settings) -> str:
    if settings.database_url.startswith("sqlite"):
        # The engine makes a missing folder, so a file stands where the folder would be.
        blocker = settings.instance_path / "not-a-folder"
        blocker.parent.mkdir(parents=True, exist_ok=True)
        blocker.write_text("")
        return f"sqlite:///{blocker}/db.sqlite"
    return "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2"


def test_healthz(app: Flask) -> None:
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert "Set-Cookie" not in response.headers


def test_healthz_needs_neither_database_nor_redis(make_app: MakeApp, settings: Settings) -> None:
    app = make_app(database_url=unreachable_database(settings), redis_url=NO_REDIS)
    response = app.test_client().get("/healthz")
    assert response.status_code == 200


def test_readyz_when_everything_answers(app: Flask) -> None:
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}


def test_readyz_names_redis_when_it_does_not_answer(make_app: MakeApp) -> None:
    app = make_app(redis_url=NO_REDIS)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "redis": "unreachable"},
    }


def test_readyz_names_the_database_when_it_does_not_answer(make_app: MakeApp, settings: Settings) -> None:
    app = make_app(database_url=unreachable_database(settings))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "checks": {"database": "unreachable", "redis": "ok"},
    }


def test_readyz_with_both_down(make_app: MakeApp, settings: Settings) -> None:
    app = make_app(database_url=unreachable_database(settings), redis_url=NO_REDIS)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {"database": "unreachable", "redis": "unreachable"}
