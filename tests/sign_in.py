"""Test-only sign-in: ``POST /_test/sign-in`` (``staff_id``) starts a session for a staff user without
either platform; ``POST /_test/sign-out`` ends it.

The app itself never mounts this, whatever the environment says: the suite's ``app`` fixture and
``tests/live_app.py`` (the gunicorn app of the browser tests) call :func:`mount`. It lives under tests/, so
no deployed copy of the app contains it. The real sign-in comes from the platforms (Shopify session token,
BigCommerce ``load``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, current_app, jsonify, request

from integration import runtime_of
from integration.shops.models import StaffUser
from integration.shops.staff import sign_in, sign_out

bp = Blueprint("testing", __name__, url_prefix="/_test")


def mount(app: Flask) -> Flask:
    """Add the test sign-in to ``app`` (before its first request)."""
    app.register_blueprint(bp)
    return app


@bp.before_request
def only_in_tests() -> None:
    # Belt and braces: an app mounted by mistake outside the suite's settings still refuses.
    if runtime_of(current_app).settings.app_env != "test":
        abort(404)


@bp.post("/sign-in")
def test_sign_in() -> Any:
    raw = request.form.get("staff_id") or (request.get_json(silent=True) or {}).get("staff_id")
    if not str(raw or "").isdigit():
        abort(400, description="staff_id is required")
    with runtime_of(current_app).session() as db:
        staff = db.get(StaffUser, int(str(raw)))
        if staff is None:
            abort(404, description="no such staff user")
        sign_in(staff)
        return jsonify(staff_id=staff.id, shop_id=staff.shop_id, role=staff.role)


@bp.post("/sign-out")
def test_sign_out() -> Any:
    sign_out()
    return "", 204
