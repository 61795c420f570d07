"""Personal Commerce: the app package (factory, settings, domain, persistence, platform clients)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException
from werkzeug.utils import import_string

from integration.core.config import Settings
from integration.core.runtime import Runtime
from integration.core.sessions import SESSION_LIFETIME, AppSessionInterface
from integration.events.intake import EventIntake

# Blueprints by dotted path: integration/ never imports the webhooks/ edge, it only mounts it.
BLUEPRINTS = (
    "integration.core.health:bp",
    "webhooks:bp",
    "integration.web.settings:bp",
    "integration.customers.api:bp",
    "integration.reps.signin:bp",
    "integration.reps.workspace:bp",
    "integration.reps.merchant:bp",
    "integration.reps.roster_page:bp",
    "integration.reps.offers_page:bp",
    "integration.messaging.pages:bp",
)


def create_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask app. ``config`` is a :class:`Settings` or overrides of its fields (tests).

    The app has no test-only routes: the test suite adds its sign-in to the app it builds.
    """
    settings = config if isinstance(config, Settings) else Settings.from_env(**dict(config or {}))
    from integration.core import logs, telemetry

    logs.configure(settings.log_level, settings.log_format)
    telemetry.configure(settings)

    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_webhook_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        # Shopify and BigCommerce frame our pages in their admin: a third-party context, in which a
        # browser sends only SameSite=None cookies, only Secure ones, and (Chrome, Firefox, Safari 26.2)
        # blocks even those unless they are Partitioned (CHIPS: a cookie jar of our own per embedding
        # site). Local development runs on plain http, where none of that applies: Lax there.
        SESSION_COOKIE_SECURE=settings.serves_https,
        SESSION_COOKIE_SAMESITE="None" if settings.serves_https else "Lax",
        SESSION_COOKIE_PARTITIONED=settings.serves_https,
        # A session ends SESSION_LIFETIME after sign-in, however busy (integration/web/staff.py checks
        # the sign-in time it holds): the cookie is not renewed on every request either.
        PERMANENT_SESSION_LIFETIME=dt.timedelta(seconds=SESSION_LIFETIME),
        SESSION_REFRESH_EACH_REQUEST=False,
        # A settings form left open stays submittable as long as the session it belongs to.
        WTF_CSRF_TIME_LIMIT=SESSION_LIFETIME,
    )
    app.session_interface = AppSessionInterface()
    runtime = Runtime.from_settings(settings)
    app.extensions["runtime"] = runtime
    app.extensions["intake"] = EventIntake(runtime.engine)

    from integration.platforms.registry import PLATFORMS

    for path in (*BLUEPRINTS, *(parts.blueprint for parts in PLATFORMS.values())):
        app.register_blueprint(import_string(path))
    # No test routes, whatever APP_ENV says: the suite mounts its sign-in itself (tests/sign_in.py).

    @app.errorhandler(HTTPException)
    def json_error(exc: HTTPException) -> Any:
        # Every error the app answers is a short JSON object with the reason; never an HTML page.
        return jsonify(error=exc.description or exc.name), exc.code or 500

    from integration.ops import init_app as init_ops

    init_ops(app)

    from integration.messaging.pages import init_limits as init_link_limits

    # The app's one Flask-Limiter (made with the ops console, for its sign-in form) also limits fresh links.
    init_link_limits(app, app.extensions["ops_limiter"])

    from integration.cli import register_commands

    register_commands(app)
    return app


def runtime_of(app: Flask) -> Runtime:
    runtime: Runtime = app.extensions["runtime"]
    return runtime


def intake_of(app: Flask) -> EventIntake:
    intake: EventIntake = app.extensions["intake"]
    return intake
