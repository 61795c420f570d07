"""The JSON the rep workspace will read: ``GET /api/shops/<shop>/customers/<id>``.

Every page but the preference centre must require the right person. Staff sign-in arrives with the
install capability, so until then this blueprint is mounted only in tests (``app.testing``); in a
running app the route does not exist.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify
from flask.typing import ResponseReturnValue

from integration.customer_views import find_customer, find_shop, profile

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/shops/<shop>/customers/<customer>")
def customer_profile(shop: str, customer: str) -> ResponseReturnValue:
    from integration import runtime_of

    with runtime_of(current_app).session() as session:
        found_shop = find_shop(session, shop)
        found = find_customer(session, found_shop, customer) if found_shop is not None else None
        if found is None:
            abort(404, "customer not found")
        return jsonify(profile(session, found))
