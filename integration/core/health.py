"""Liveness and readiness probes."""

from __future__ import annotations

import logging

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
    return all(v == "ok" for v in checks.values()), checks


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """The database and Redis both answer; 503 (with which one failed) otherwise."""
    from integration import runtime_of

    ready, checks = readiness(runtime_of(current_app))
    return jsonify(status="ready" if ready else "unavailable", checks=checks), 200 if ready else 503
