"""rq-dashboard, mounted at ``/ops/rq/`` behind the ops sign-in.

rq-dashboard has no authentication of its own and changes state with plain POSTs (and one GET:
``requeue/<queue>``) from its own scripts, without a CSRF token. So here: every request needs an ops
session (the ``SameSite=Strict`` cookie is never sent by another site's request); a request that changes
anything must be a POST whose ``Origin`` (or ``Sec-Fetch-Site``) says it came from this site.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, abort, request

from integration.ops.auth import refuse_without_session

PREFIX = "/ops/rq"


def _guard() -> Response | None:
    refused = refuse_without_session()
    if refused is not None:
        return refused
    changing = request.method != "GET" or "/requeue/" in request.path
    if changing:
        if request.method != "POST":
            abort(405, description="Use the dashboard's buttons.")
        origin = request.headers.get("Origin")
        same_site = request.headers.get("Sec-Fetch-Site") in (None, "same-origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            abort(403, description="Cross-site request refused.")
        if origin is None and not same_site:
            abort(403, description="Cross-site request refused.")
    return None


def _headers(response: Response) -> Response:
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def mount(app: Flask, redis_url: str) -> None:
    import rq_dashboard
    from rq_dashboard.web import setup_rq_connection

    app.config.setdefault("RQ_DASHBOARD_REDIS_URL", redis_url)
    app.config.setdefault("RQ_DASHBOARD_POLL_INTERVAL", 5000)
    for key in dir(rq_dashboard.default_settings):
        if key.isupper():
            app.config.setdefault(key, getattr(rq_dashboard.default_settings, key))
    with app.app_context():
        setup_rq_connection(app)
    blueprint = rq_dashboard.blueprint
    # The blueprint object is rq-dashboard's module global: register the guard once per process.
    if _guard not in blueprint.before_request_funcs.get(None, []):
        blueprint.before_request_funcs.setdefault(None, []).insert(0, _guard)
        blueprint.after_request(_headers)
    app.register_blueprint(blueprint, url_prefix=PREFIX)
