"""``GET /metrics``: Prometheus text, from every process (prometheus-client's multiprocess mode).

Each process (gunicorn workers, RQ workers and their work horses, the scheduler) writes its counters and
histograms to files under ``PROMETHEUS_MULTIPROC_DIR`` (default ``instance/prometheus``); a scrape sums
them. What is a state rather than a count (queue depth, events by status, outbox and check-ins by status)
is read from Redis and the database at scrape time instead, so no gauge outlives a dead process.
The counters themselves live in ``integration.core.telemetry`` (the platform clients and the worker
count there without importing the web app).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, request

from integration import runtime_of
from integration.core import telemetry
from integration.ops.auth import current_ops

log = logging.getLogger(__name__)

bp = Blueprint("ops_metrics", __name__)


class _StateCollector:
    """Gauges read at scrape time: queue depths and rows by status."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily
        from rq import Queue

        from integration.core.queues import ALL
        from integration.events.models import WebhookEvent
        from integration.messaging.models import OutboxMessage
        from integration.reps.models import CheckIn

        runtime = runtime_of(self.app)
        depth = GaugeMetricFamily("pc_queue_depth", "Jobs waiting in each RQ queue", labels=["queue"])
        for name in ALL:
            depth.add_metric([name], Queue(name, connection=runtime.redis).count)
        yield depth
        for metric, model, text in (
            ("pc_events", WebhookEvent, "Stored webhook events by status"),
            ("pc_outbox_messages", OutboxMessage, "Emails in the outbox by status (sent, suppressed, failed…)"),
            ("pc_checkins", CheckIn, "Check-ins by status (created, done…)"),
        ):
            family = GaugeMetricFamily(metric, text, labels=["status"])
            with runtime.session() as db:
                for status, count in db.execute(sa.select(model.status, sa.func.count()).group_by(model.status)):
                    family.add_metric([str(status)], int(count))
            yield family


def _bearer_ok() -> bool:
    token = runtime_of(current_app).settings.metrics_token
    given = request.headers.get("Authorization", "")
    if not token or not given.startswith("Bearer "):
        return False
    return hmac.compare_digest(given.removeprefix("Bearer ").encode(), token.encode())


@bp.get("/metrics")
def metrics() -> Any:
    if not _bearer_ok() and current_ops() is None:
        abort(401, description="Sign in to the ops console, or send Authorization: Bearer <METRICS_TOKEN>.")
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    if telemetry.metrics_dir() is not None:
        MultiProcessCollector(registry, path=str(telemetry.metrics_dir()))  # type: ignore[no-untyped-call]
    registry.register(_StateCollector(current_app._get_current_object()))  # type: ignore[attr-defined]
    response = Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response
