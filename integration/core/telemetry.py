"""The process's Prometheus counters and histograms (prometheus-client, multiprocess mode).

Each process (gunicorn workers, RQ workers, the scheduler) writes them to files under
``PROMETHEUS_MULTIPROC_DIR`` (default ``instance/prometheus``); ``GET /metrics`` (``integration.ops.metrics``)
sums them. The directory must be known before prometheus-client makes its first metric: :func:`configure`
(called by the app factory, so by every process) sets it and re-reads prometheus-client's value class.
Until it is called (a bare library use, some tests) every function here does nothing.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from integration.core.config import Settings

_dir: Path | None = None


def clear_dir(directory: Path) -> None:
    """Remove the metrics files of processes that are gone (call before starting them all)."""
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)


def metrics_dir() -> Path | None:
    return _dir


def configure(settings: Settings) -> None:
    """Point prometheus-client at this app's multiprocess directory (once per process)."""
    global _dir
    directory = settings.metrics_dir
    directory.mkdir(parents=True, exist_ok=True)
    # prometheus-client reads its directory from the environment, nowhere else.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    if _dir != directory:
        from prometheus_client import values

        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        _dir = directory
        _metrics.cache_clear()


@functools.cache
def _metrics() -> dict[str, Any]:
    from prometheus_client import Counter, Histogram

    # Not registered anywhere: in multiprocess mode a scrape reads the files, and a process that moves to
    # another directory (a test) makes its metrics again under the same names.
    return {
        "webhooks": Counter(
            "pc_webhooks_received",
            "Webhook deliveries answered, by platform, topic and result",
            ["platform", "topic", "result"],
            registry=None,
        ),
        "ingest": Histogram(
            "pc_webhook_ingest_seconds",
            "Time to verify, store and answer one webhook delivery",
            ["platform"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=None,
        ),
        "job_seconds": Histogram(
            "pc_job_duration_seconds",
            "RQ job run time, by job",
            ["job"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=None,
        ),
        "job_failures": Counter("pc_job_failures", "RQ job runs that raised, by job", ["job"], registry=None),
        "api_calls": Counter(
            "pc_platform_api_calls",
            "Calls to a platform's API, by platform and status",
            ["platform", "status"],
            registry=None,
        ),
        "emails": Counter(
            "pc_emails",
            "Outbox sends by result: sent, skipped (not contactable or suppressed when it ran), suppressed (the "
            "server refused the recipient for good), failed, unconfirmed, retry",
            ["result"],
            registry=None,
        ),
        "checkins": Counter(
            "pc_checkins_changed",
            "Check-ins created and closed (done, unreachable, cancelled), counted once their transaction commits",
            ["change"],
            registry=None,
        ),
        "api_wait": Counter(
            "pc_platform_api_wait_seconds",
            "Time spent waiting for a platform's API budget",
            ["platform"],
            registry=None,
        ),
    }


def webhook_answered(platform: str, topic: str, result: str, seconds: float) -> None:
    if _dir is None:
        return
    m = _metrics()
    m["webhooks"].labels(platform, topic, result).inc()
    m["ingest"].labels(platform).observe(seconds)


def job_ran(job: str, seconds: float, failed: bool) -> None:
    if _dir is None:
        return
    m = _metrics()
    m["job_seconds"].labels(job).observe(seconds)
    if failed:
        m["job_failures"].labels(job).inc()


def api_call(platform: str, status: int | str) -> None:
    if _dir is not None:
        _metrics()["api_calls"].labels(platform, str(status)).inc()


def api_waited(platform: str, seconds: float) -> None:
    if _dir is not None and seconds > 0:
        _metrics()["api_wait"].labels(platform).inc(seconds)


def email_result(result: str) -> None:
    if _dir is not None:
        _metrics()["emails"].labels(result).inc()


_PENDING = "telemetry.checkins"


def checkin_changed(session: Session, change: str) -> None:
    """Count a check-in created or closed once ``session`` commits (a rolled-back change counts nothing)."""
    if _dir is not None:
        session.info.setdefault(_PENDING, []).append(change)


@event.listens_for(Session, "after_commit")
def _count_checkins(session: Session) -> None:
    for change in session.info.pop(_PENDING, ()):
        _metrics()["checkins"].labels(change).inc()


@event.listens_for(Session, "after_rollback")
def _forget_checkins(session: Session) -> None:
    session.info.pop(_PENDING, None)
