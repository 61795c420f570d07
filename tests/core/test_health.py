"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Flask

from integration.core.config import Settings
from tests.helpers import AppFactory

NO_REDIS = "unix:///tmp/nonexistent.sock"


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


def test_healthz_needs_neither_database_nor_redis(make_app: AppFactory, settings: Settings) -> None:
    app = make_app(database_url=unreachable_database(settings), redis_url=NO_REDIS)
    response = app.test_client().get("/healthz")
    assert response.status_code == 200


def test_readyz_when_everything_answers(app: Flask) -> None:
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}


def test_readyz_names_redis_when_it_does_not_answer(make_app: AppFactory) -> None:
    app = make_app(redis_url=NO_REDIS)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "redis": "unreachable"},
    }


def test_readyz_names_the_database_when_it_does_not_answer(make_app: AppFactory, settings: Settings) -> None:
    app = make_app(database_url=unreachable_database(settings))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "checks": {"database": "unreachable", "redis": "ok"},
    }


def test_readyz_with_both_down(make_app: AppFactory, settings: Settings) -> None:
    app = make_app(database_url=unreachable_database(settings), redis_url=NO_REDIS)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {"database": "unreachable", "redis": "unreachable"}
