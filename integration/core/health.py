"""Liveness and readiness probes."""

from __future__ import annotations

import datetime as dt
import logging
import time

import redis
import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from integration.core.runtime import Runtime

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process is up and serving requests."""
    return jsonify(status="ok")


# The scheduler sets this key on its rounds (at most every SCHEDULER_BEAT seconds) with a TTL of
# HEARTBEAT_MAX_AGE: the key is gone a minute after its last round. RQ workers keep their own heartbeat
# (``integration.core.scheduler.WORKER_TTL`` makes an idle worker beat at least every 20 s).
SCHEDULER_KEY = "pc:scheduler:heartbeat"
SCHEDULER_BEAT = 5
HEARTBEAT_MAX_AGE = 60


def beat_scheduler(client: redis.Redis) -> None:
    client.set(SCHEDULER_KEY, str(int(time.time())), ex=HEARTBEAT_MAX_AGE)


def _workers_check(client: redis.Redis) -> str:
    from rq import Worker

    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=HEARTBEAT_MAX_AGE)
    beats = [w.last_heartbeat for w in Worker.all(connection=client)]
    alive = [b for b in beats if b is not None and (b if b.tzinfo else b.replace(tzinfo=dt.UTC)) >= cutoff]
    if alive:
        return "ok"
    return "no worker heartbeat for a minute" if beats else "no worker running"


def readiness(runtime: Runtime) -> tuple[bool, dict[str, str]]:
    """Whether the app can do its work, and each check's answer ("ok" or what is wrong)."""
    checks: dict[str, str] = {}
    try:
        with runtime.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        log.warning("readyz: database unreachable: %s", type(exc).__name__)
        checks["database"] = "unreachable"
    try:
        runtime.redis.ping()
        checks["redis"] = "ok"
    except (redis.RedisError, OSError) as exc:
        log.warning("readyz: redis unreachable: %s", type(exc).__name__)
        checks["redis"] = "unreachable"
    if checks["redis"] == "ok":
        # Both heartbeats live in Redis: without it neither can be told.
        try:
            checks["workers"] = _workers_check(runtime.redis)
            checks["scheduler"] = "ok" if runtime.redis.exists(SCHEDULER_KEY) else "not running"
        except (redis.RedisError, OSError) as exc:
            log.warning("readyz: redis failed mid-check: %s", type(exc).__name__)
            checks["redis"] = "unreachable"
    return all(v == "ok" for v in checks.values()), checks


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """The database and Redis answer, a worker beat within a minute and the scheduler runs; 503 (naming
    what failed) otherwise."""
    from integration import runtime_of

    ready, checks = readiness(runtime_of(current_app))
    return jsonify(status="ready" if ready else "unavailable", checks=checks), 200 if ready else 503
