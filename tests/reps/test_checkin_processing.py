"""Check-ins through real processing: webhooks stored by the intake, relayed and run by a worker (``drain``),
from the platforms' own payloads (Shopify fixtures; BigCommerce's API answered by the fake store)."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from rq.exceptions import NoSuchJobError
from rq.registry import ScheduledJobRegistry

from integration import runtime_of
from integration.core.db import utcnow
from integration.core.queues import MAINTENANCE
from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.customers.views import rep_and_next_checkin
from integration.events.intake import EventIntake
from integration.events.models import EventStatus, WebhookEvent
from integration.reps.books import zone
from integration.reps.models import CheckIn
from integration.reps.roster import RepInput, add_rep
from tests.fakes.bigcommerce_api import FakeBigCommerce, sample_order, sample_shipment, sample_shipping_addresses
from tests.helpers import (
    BC_TOKEN,
    STORE_HASH,
    RuntimeFactory,
    add_shop,
    bigcommerce_body,
    drain,
    fixture_bytes,
    post_shopify,
    store_bigcommerce_event,
)

ALL_WEEK = "Mon-Sun 00:00-24:00"  # the rep is always working: only the customer's window decides


def shopify(name: str, **fields: Any) -> bytes:
    body = json.loads(fixture_bytes(f"shopify/shopify_{name}.json"))
    body.update(fields)
    return json.dumps(body).encode()


def stamp(moment: dt.datetime) -> str:
    return moment.isoformat()


def checkins(runtime: Runtime) -> list[CheckIn]:
    with runtime.session() as session:
        return list(session.scalars(sa.select(CheckIn).order_by(CheckIn.id)))


def in_customer_window(checkin: CheckIn, customer_zone: str) -> bool:
    local = checkin.due_at.astimezone(zone(customer_zone))
    return local.weekday() < 5 and 10 <= local.hour < 19


def scheduled_at(runtime: Runtime, checkin_id: int) -> dt.datetime | None:
    """When the task's job fires. RQ keeps whole seconds (a due time with microseconds, as when the call
    window is open at the moment the test runs, is floored; ``make_due`` allows for firing early)."""
    try:
        return ScheduledJobRegistry(MAINTENANCE, connection=runtime.redis).get_scheduled_time(f"checkin-{checkin_id}")
    except NoSuchJobError:
        return None


def test_a_shopify_order_shipped_then_delivered_then_cancelled(client: FlaskClient) -> None:
    runtime = runtime_of(client.application)
    shop = add_shop(runtime).id
    with runtime.session() as session:
        add_rep(session, shop, RepInput("Dana", "dana@shop.example", "America/New_York", hours=ALL_WEEK))
    t0 = utcnow().replace(microsecond=0)
    placed, shipped, delivered = t0 - dt.timedelta(days=6), t0 - dt.timedelta(days=5), t0 - dt.timedelta(days=4)
    order = {"id": 5001, "test": False, "financial_status": "paid", "cancelled_at": None, "fulfillment_status": None}
    order |= {"created_at": stamp(placed), "updated_at": stamp(placed), "processed_at": stamp(placed)}
    assert post_shopify(client, shopify("orders_create", **order), webhook_id="o-1").status_code == 200
    fulfilment = {"id": 6001, "order_id": 5001, "status": "success", "shipment_status": None}
    fulfilment |= {"created_at": stamp(shipped), "updated_at": stamp(shipped)}
    body = shopify("fulfillments_create", **fulfilment)
    assert post_shopify(client, body, topic="fulfillments/create", webhook_id="f-1").status_code == 200
    drain(runtime)

    (estimated,) = checkins(runtime)  # shipped five days ago + 4 transit days: arrived yesterday
    with runtime.session() as session:
        customer = session.scalars(sa.select(Customer)).one()
        customer_zone = "America/Toronto"  # from the customer's address (Ontario)
        assert customer.time_zone == customer_zone
        assert rep_and_next_checkin(session, customer)["next_checkin"]["id"] == estimated.id
    assert (estimated.delivered_at, estimated.delivery_estimated) == (shipped + dt.timedelta(days=4), True)
    assert estimated.due_at >= t0 + dt.timedelta(days=1) and in_customer_window(estimated, customer_zone)
    assert scheduled_at(runtime, estimated.id) == estimated.due_at.replace(microsecond=0)

    step = {"fulfillment_id": 6001, "order_id": 5001, "status": "delivered", "happened_at": stamp(delivered)}
    step |= {"created_at": stamp(delivered), "updated_at": stamp(delivered)}
    body = shopify("fulfillment_events_create", **step)
    assert post_shopify(client, body, topic="fulfillment_events/create", webhook_id="fe-1").status_code == 200
    drain(runtime)
    (moved,) = checkins(runtime)  # really delivered four days ago: callable from now, in the next slot
    assert (moved.id, moved.delivered_at, moved.delivery_estimated) == (estimated.id, delivered, False)
    assert t0 <= moved.due_at <= estimated.due_at and in_customer_window(moved, customer_zone)
    assert scheduled_at(runtime, moved.id) == moved.due_at.replace(microsecond=0)

    cancelled = order | {"cancelled_at": stamp(t0), "updated_at": stamp(t0), "financial_status": "voided"}
    body = shopify("orders_updated", **cancelled)
    assert post_shopify(client, body, topic="orders/updated", webhook_id="o-2").status_code == 200
    drain(runtime)
    (closed,) = checkins(runtime)
    assert (closed.status, closed.close_reason) == ("cancelled", "order cancelled")
    assert scheduled_at(runtime, closed.id) is None
    with runtime.session() as session:
        assert {e.status for e in session.scalars(sa.select(WebhookEvent))} == {EventStatus.DONE}


@pytest.fixture
def bc_runtime(make_runtime: RuntimeFactory, fake_bc: FakeBigCommerce) -> Runtime:
    return make_runtime(bigcommerce_api_url=fake_bc.url)


def rfc2822(moment: dt.datetime) -> str:
    return email.utils.format_datetime(moment)


def test_a_bigcommerce_order_marked_shipped_then_its_shipment(bc_runtime: Runtime, fake_bc: FakeBigCommerce) -> None:
    shop = add_shop(bc_runtime, "bigcommerce", STORE_HASH, token=BC_TOKEN).id
    with bc_runtime.session() as session:
        add_rep(session, shop, RepInput("Dana", "dana@shop.example", "America/Chicago", hours=ALL_WEEK))
    t0 = utcnow().replace(microsecond=0)
    marked = t0 - dt.timedelta(days=3)
    order = sample_order(status_id=2, status="Shipped", date_modified=rfc2822(marked))
    fake_bc.add_order(STORE_HASH, order, [], sample_shipping_addresses())
    intake = EventIntake(bc_runtime.engine)
    try:
        store_bigcommerce_event(intake, bigcommerce_body("store/order/statusUpdated", 218, event_hash="h1"))
        drain(bc_runtime)
        (from_status,) = checkins(bc_runtime)  # status Shipped 3 days ago + 4 transit days
        assert (from_status.delivered_at, from_status.delivery_estimated) == (marked + dt.timedelta(days=4), True)
        # The shipment itself says it left 5 days ago: a better estimate, but an estimate moves nothing.
        shipped = t0 - dt.timedelta(days=5)
        fake_bc.add_shipment(STORE_HASH, 218, sample_shipment(id=12, date_created=rfc2822(shipped)))
        body = bigcommerce_body("store/shipment/created", 12, event_hash="h2", orderId=218)
        store_bigcommerce_event(intake, body)
        drain(bc_runtime)
    finally:
        intake._discard_connection()
    (same,) = checkins(bc_runtime)
    assert (same.id, same.due_at, same.delivery_estimated) == (from_status.id, from_status.due_at, True)
    with bc_runtime.session() as session:
        customer = session.scalars(sa.select(Customer)).one()
        assert customer.rep_id is not None and same.rep_id == customer.rep_id
        assert in_customer_window(same, customer.time_zone or "UTC")
