"""The console's pages against the database and Redis they describe."""

from __future__ import annotations

import datetime as dt
import json
import re

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from rq import SimpleWorker
from rq.registry import FailedJobRegistry

from integration import runtime_of
from integration.core.db import utcnow
from integration.core.queues import BULK, MAINTENANCE
from integration.events.intake import EventIntake
from integration.events.models import EventStatus, WebhookEvent
from integration.messaging.models import OutboxMessage
from integration.ops.models import OpsReveal
from tests.helpers import add_shop, post_shopify, store_shopify_event
from tests.ops.conftest import OPS_EMAIL, csrf_from

CUSTOMER = {"id": 7, "email": "maria.lopez@example.net", "first_name": "Maria", "phone": "+15555550123"}


def order_body(order_id: int = 1) -> bytes:
    return json.dumps({"id": order_id, "total_price": "12.00", "customer": CUSTOMER}).encode()


def set_events(app: Flask, *ids: int, **values: object) -> None:
    with runtime_of(app).session() as db:
        db.execute(sa.update(WebhookEvent).where(WebhookEvent.id.in_(ids)).values(**values))


def test_overview_numbers_are_the_databases(app: Flask, ops_client: FlaskClient, intake: EventIntake) -> None:
    add_shop(runtime_of(app))
    ids = [store_shopify_event(intake, order_body(i), webhook_id=f"wh-{i}") for i in range(5)]
    now = utcnow()
    # Lags of 1, 2, 3 seconds for three done events; one failed; one stuck in processing.
    for i, event_id in enumerate(ids[:3]):
        set_events(
            app,
            event_id,
            status=EventStatus.DONE,
            received_at=now - dt.timedelta(seconds=60),
            processed_at=now - dt.timedelta(seconds=59 - i),
        )
    set_events(app, ids[3], status=EventStatus.FAILED, last_error="boom")
    set_events(app, ids[4], status=EventStatus.PROCESSING, started_at=now - dt.timedelta(hours=1))
    page = ops_client.get("/ops").get_data(as_text=True)
    assert 'data-status="done"><a href="/ops/events?status=done">3<' in page
    assert 'data-status="failed"><a href="/ops/events?status=failed">1<' in page
    assert 'data-status="stuck"><a href="/ops/events?stuck=1">1<' in page
    assert 'data-lag="p50">2.00 s<' in page and 'data-lag="p95">3.00 s<' in page
    assert "<svg" in page and "Webhooks per minute" in page
    part = ops_client.get("/ops?part=body").get_data(as_text=True)
    assert "<html" not in part and 'data-lag="count">3<' in part


def test_overview_counts_webhooks_by_result_and_status(app: Flask, ops_client: FlaskClient) -> None:
    add_shop(runtime_of(app))
    client = app.test_client()
    assert post_shopify(client, order_body(), webhook_id="a").status_code == 200
    assert post_shopify(client, order_body(), webhook_id="a").status_code == 200
    forged = client.post("/webhooks/shopify", data=order_body(), headers={"X-Shopify-Hmac-Sha256": "bad"})
    assert forged.status_code == 401
    page = ops_client.get("/ops").get_data(as_text=True)
    assert 'data-count="shopify-accepted-200">1<' in page
    assert 'data-count="shopify-duplicate-200">1<' in page
    assert 'data-count="shopify-rejected-401">1<' in page


def test_events_filter_and_mask_until_revealed_with_an_audit_row(
    app: Flask, ops_client: FlaskClient, intake: EventIntake
) -> None:
    first = store_shopify_event(intake, order_body(1), webhook_id="x1")
    second = store_shopify_event(intake, order_body(2), webhook_id="x2", topic="customers/create")
    listing = ops_client.get("/ops/events?topic=customers/create").get_data(as_text=True)
    assert f'data-event="{second}"' in listing and f'data-event="{first}"' not in listing
    assert ops_client.get("/ops/events?status=nonsense").status_code == 422
    page = ops_client.get(f"/ops/events/{first}").get_data(as_text=True)
    for secret in (CUSTOMER["email"], CUSTOMER["first_name"], CUSTOMER["phone"]):
        assert secret not in page
    assert "&#34;total_price&#34;: &#34;12.00&#34;" in page
    revealed = ops_client.post(f"/ops/events/{first}/reveal", data={"csrf_token": csrf_from(page)})
    assert revealed.status_code == 200
    assert CUSTOMER["email"] in revealed.get_data(as_text=True)
    with runtime_of(app).session() as db:
        audit = db.scalars(sa.select(OpsReveal)).one()
        assert (audit.ops_email, audit.event_id) == (OPS_EMAIL, first)
    # Nothing sticks: the next look is masked again, and says who looked.
    again = ops_client.get(f"/ops/events/{first}").get_data(as_text=True)
    assert CUSTOMER["email"] not in again and OPS_EMAIL in again
    assert ops_client.get("/ops/events/999999").status_code == 404


def test_replay_one_and_a_filtered_set(app: Flask, ops_client: FlaskClient, intake: EventIntake) -> None:
    ids = [store_shopify_event(intake, order_body(i), webhook_id=f"r{i}") for i in range(3)]
    set_events(app, *ids, status=EventStatus.FAILED, attempts=6, last_error="boom", queued_at=utcnow())
    token = csrf_from(ops_client.get(f"/ops/events/{ids[0]}").get_data(as_text=True))
    assert ops_client.post(f"/ops/events/{ids[0]}/replay").status_code == 400  # no CSRF token
    response = ops_client.post(f"/ops/events/{ids[0]}/replay", data={"csrf_token": token})
    assert response.status_code == 303
    with runtime_of(app).session() as db:
        assert db.get_one(WebhookEvent, ids[0]).status == EventStatus.RECEIVED
        assert db.get_one(WebhookEvent, ids[1]).status == EventStatus.FAILED
    assert ops_client.post("/ops/events/replay", data={"csrf_token": token}).status_code == 422  # no filter
    bulk = ops_client.post("/ops/events/replay", data={"csrf_token": token, "status": "failed"})
    assert bulk.status_code == 303 and "status=failed" in bulk.headers["Location"]
    with runtime_of(app).session() as db:
        statuses = set(db.scalars(sa.select(WebhookEvent.status).where(WebhookEvent.id.in_(ids))))
    assert statuses == {EventStatus.RECEIVED}


def test_failed_jobs_requeue_one_and_all(app: Flask, ops_client: FlaskClient) -> None:
    runtime = runtime_of(app)
    queue = runtime.queue(BULK)
    jobs = [queue.enqueue("tests.ops.jobs.explode", f"n{i}") for i in range(3)]
    SimpleWorker([queue], connection=runtime.redis).work(burst=True, with_scheduler=False, logging_level="ERROR")
    registry = FailedJobRegistry(BULK, connection=runtime.redis)
    assert registry.count == 3
    page = ops_client.get("/ops/failed").get_data(as_text=True)
    assert "RuntimeError: boom: n0" in page and f'data-job="{jobs[0].id}"' in page
    token = csrf_from(page)
    assert ops_client.post(f"/ops/failed/{jobs[0].id}/requeue", data={"csrf_token": token}).status_code == 303
    assert registry.count == 2 and queue.count == 1
    assert ops_client.post(f"/ops/failed/{jobs[0].id}/requeue", data={"csrf_token": token}).status_code == 404
    assert ops_client.post("/ops/failed/requeue-all", data={"csrf_token": token}).status_code == 303
    assert registry.count == 0 and queue.count == 3


def test_shops_page_and_its_actions(app: Flask, ops_client: FlaskClient) -> None:
    runtime = runtime_of(app)
    shop = add_shop(runtime)
    page = ops_client.get("/ops/shops").get_data(as_text=True)
    assert shop.identifier in page and "never checked" in page
    token = csrf_from(page)
    assert ops_client.post(f"/ops/shops/{shop.id}/reconcile", data={"csrf_token": token}).status_code == 303
    assert ops_client.post(f"/ops/shops/{shop.id}/subscriptions", data={"csrf_token": token}).status_code == 303
    assert runtime.queue(BULK).count == 2
    assert ops_client.post("/ops/shops/9999/reconcile", data={"csrf_token": token}).status_code == 404
    assert runtime.queue(MAINTENANCE).count == 0


def test_outbox_lists_rows_with_the_recipient_masked(app: Flask, ops_client: FlaskClient) -> None:
    runtime = runtime_of(app)
    shop = add_shop(runtime)
    with runtime.session() as db:
        db.add(
            OutboxMessage(
                shop_id=shop.id,
                dedupe_key="k1",
                template="signin_link",
                recipient="maria.lopez@example.net",
                subject="Your sign-in link",
                text_body="secret link",
                status="failed",
                error="SMTP 550",
            )
        )
    page = ops_client.get("/ops/outbox").get_data(as_text=True)
    assert "maria.lopez@example.net" not in page and "m•••@e•••.net" in page
    assert "signin_link" in page and "SMTP 550" in page and "secret link" not in page
    assert re.search(r"1 message\(s\)", page)
