"""Test-only sign-in: a session for a staff user without either platform (mounted only when APP_ENV=test).

Tests and the headless-browser test call ``POST /_test/sign-in`` with ``staff_id``; the real sign-in
comes from the install flows (Shopify session token, BigCommerce load).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request

from integration import runtime_of
from integration.shops.models import StaffUser
from integration.shops.staff import sign_in, sign_out

bp = Blueprint("testing", __name__, url_prefix="/_test")


@bp.before_request
def only_in_tests() -> None:
    # create_app mounts this blueprint only in tests; refuse anyway should it ever be mounted elsewhere.
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
