"""Through real processing: a qualifying order gives its customer a rep; a test order never does."""

from __future__ import annotations

import json

import sqlalchemy as sa
from flask.testing import FlaskClient

from integration import runtime_of
from integration.customers.models import Customer
from integration.reps.roster import RepInput, add_rep
from tests.helpers import SHOP_DOMAIN, add_shop, drain, fixture_bytes, invoke, post_shopify


def paid_order(order_id: int, *, test: bool) -> bytes:
    order = json.loads(fixture_bytes("shopify/shopify_orders_create.json"))
    order.update(id=order_id, test=test, financial_status="paid", cancelled_at=None)
    return json.dumps(order).encode()


def test_a_paid_order_assigns_a_rep_and_a_test_order_does_not(client: FlaskClient) -> None:
    runtime = runtime_of(client.application)
    shop = add_shop(runtime).id
    with runtime.session() as session:
        dana = add_rep(session, shop, RepInput("Dana", "dana@shop.example", "America/New_York")).id

    assert post_shopify(client, paid_order(1, test=True), webhook_id="wh-test").status_code == 200
    drain(runtime)
    with runtime.session() as session:
        assert session.scalars(sa.select(Customer.rep_id)).all() == [None]

    assert post_shopify(client, paid_order(2, test=False), webhook_id="wh-real").status_code == 200
    drain(runtime)
    with runtime.session() as session:
        ((customer_id, rep_id),) = session.execute(sa.select(Customer.id, Customer.rep_id)).all()
        assert rep_id == dana
    profile = invoke(client.application, "customers", "show", SHOP_DOMAIN, str(customer_id), "--json")
    assert profile.exit_code == 0, profile.output
    assert json.loads(profile.output)["rep"] == {"name": "Dana", "email": "dana@shop.example"}
