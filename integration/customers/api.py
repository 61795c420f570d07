"""The JSON the rep workspace reads: ``GET /api/shops/<shop>/customers/<id>``.

Behind staff sign-in (the platform's own sign-in, see ``integration.shops.staff``), and only for the
signed-in person's own shop: another shop's customers answer 404, exactly like customers that do not
exist, so the API never confirms who is a customer elsewhere.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify
from flask.typing import ResponseReturnValue

from integration.customers.views import find_customer, find_shop, profile
from integration.shops.staff import current_staff, staff_required

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/shops/<shop>/customers/<customer>")
@staff_required
def customer_profile(shop: str, customer: str) -> ResponseReturnValue:
    from integration import runtime_of

    signed_in = current_staff()
    assert signed_in is not None  # staff_required
    with runtime_of(current_app).session() as session:
        found_shop = find_shop(session, shop)
        mine = found_shop is not None and found_shop.id == signed_in[1].id
        found = find_customer(session, found_shop, customer) if mine and found_shop is not None else None
        if found is None:
            abort(404, "customer not found")
        response = jsonify(profile(session, found))
    response.headers["Cache-Control"] = "no-store"  # customer data: never kept by a browser or proxy
    return response
