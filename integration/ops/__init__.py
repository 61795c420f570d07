"""The ops console (``/ops``), the front door (``/``), rq-dashboard (``/ops/rq/``) and the webhook
counters the overview reads. ``init_app`` mounts it all on the app."""

from __future__ import annotations

from flask import Flask, g, request
from flask.wrappers import Response

from integration.ops import traffic

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

    @app.after_request
    def count_webhooks(response: Response) -> Response:
        # The edge leaves what it stored on ``g`` (platform, topic, duplicate); a rejection left nothing
        # but the path says which platform's endpoint answered.
        if request.path.startswith(WEBHOOK_PREFIX):
            platform = getattr(g, "webhook_platform", None) or request.path[len(WEBHOOK_PREFIX) :].split("/")[0]
            result = traffic.result_of(response.status_code, getattr(g, "webhook_duplicate", None))
            traffic.record(runtime.redis, platform[:32], result, response.status_code)
        return response
