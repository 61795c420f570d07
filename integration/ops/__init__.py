"""The ops console (``/ops``), the front door (``/``), rq-dashboard (``/ops/rq/``) and the webhook
counters the overview reads. ``init_app`` mounts it all on the app."""

from __future__ import annotations

import time

from flask import Flask, g, request
from flask.wrappers import Response

from integration.core import telemetry
from integration.core.logs import new_request_id
from integration.ops import metrics, traffic

BLUEPRINTS = (
    "integration.ops.front:bp",
    "integration.ops.auth:bp",
    "integration.ops.pages:bp",
    "integration.ops.admin:bp",
)
WEBHOOK_PREFIX = "/webhooks/"


def init_app(app: Flask) -> None:
    from werkzeug.utils import import_string

    from integration import runtime_of
    from integration.ops.auth import init_limits
    from integration.ops.rq_mount import mount

    for path in BLUEPRINTS:
        app.register_blueprint(import_string(path))
    runtime = runtime_of(app)
    init_limits(app)
    mount(app, runtime.settings.effective_redis_url)

    app.register_blueprint(metrics.bp)

    @app.before_request
    def start_request() -> None:
        g.request_id = new_request_id(request.headers.get("X-Request-Id"))
        g.request_started = time.perf_counter()

    @app.after_request
    def finish_request(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        # The edge leaves what it stored on ``g`` (platform, topic, duplicate); a rejection left nothing
        # but the path says which platform's endpoint answered.
        if request.path.startswith(WEBHOOK_PREFIX):
            platform = (getattr(g, "webhook_platform", None) or request.path[len(WEBHOOK_PREFIX) :].split("/")[0])[:32]
            result = traffic.result_of(response.status_code, getattr(g, "webhook_duplicate", None))
            traffic.record(runtime.redis, platform, result, response.status_code)
            topic = (getattr(g, "webhook_topic", None) or "-")[:64]
            telemetry.webhook_answered(platform, topic, result, time.perf_counter() - g.get("request_started", 0.0))
        return response
