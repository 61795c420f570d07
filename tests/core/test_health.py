"""Liveness and readiness probes."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from rq import Queue, Worker

from integration import runtime_of
from integration.core.config import Settings
from integration.core.health import SCHEDULER_KEY, beat_scheduler
from integration.core.scheduler import Scheduler
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


def live_worker(app: Flask, heartbeat: dt.datetime | None = None) -> Worker:
    """An RQ worker registered as a running one does it (birth, then a heartbeat)."""
    redis = runtime_of(app).redis
    worker = Worker([Queue("events", connection=redis)], connection=redis)
    worker.register_birth()
    worker.heartbeat()
    if heartbeat is not None:
        redis.hset(worker.key, "last_heartbeat", heartbeat.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    return worker


def test_readyz_when_everything_answers(app: Flask) -> None:
    live_worker(app)
    Scheduler(runtime_of(app)).tick()  # a real scheduler round beats
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ready",
        "checks": {"database": "ok", "redis": "ok", "workers": "ok", "scheduler": "ok"},
    }


def test_readyz_names_a_missing_worker_and_scheduler(app: Flask) -> None:
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {
        "database": "ok",
        "redis": "ok",
        "workers": "no worker running",
        "scheduler": "not running",
    }


def test_readyz_names_workers_whose_heartbeat_is_older_than_a_minute(app: Flask) -> None:
    beat_scheduler(runtime_of(app).redis)
    live_worker(app, heartbeat=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=90))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["workers"] == "no worker heartbeat for a minute"
    assert response.get_json()["checks"]["scheduler"] == "ok"
    live_worker(app)  # a second, live one is enough
    assert app.test_client().get("/readyz").status_code == 200


def test_readyz_names_a_scheduler_that_stopped_beating(app: Flask) -> None:
    live_worker(app)
    redis = runtime_of(app).redis
    beat_scheduler(redis)
    assert app.test_client().get("/readyz").status_code == 200
    assert 0 < redis.ttl(SCHEDULER_KEY) <= 60  # gone a minute after the last round
    redis.delete(SCHEDULER_KEY)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["scheduler"] == "not running"


def test_workers_beat_at_least_every_twenty_seconds_when_idle(app: Flask) -> None:
    from integration.core.scheduler import WORKER_TTL

    redis = runtime_of(app).redis
    assert Worker([Queue("events", connection=redis)], connection=redis, worker_ttl=WORKER_TTL).dequeue_timeout <= 20


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
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "unreachable" and body["checks"]["redis"] == "ok"


def test_readyz_with_both_down(make_app: AppFactory, settings: Settings) -> None:
    app = make_app(database_url=unreachable_database(settings), redis_url=NO_REDIS)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {"database": "unreachable", "redis": "unreachable"}
