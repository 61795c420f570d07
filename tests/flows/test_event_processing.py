"""Events through real processes: gunicorn over HTTP, forking RQ workers, a real Redis, a fake
BigCommerce over HTTP. These are the failure modes the spine promises to survive."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from pathlib import Path

import pytest
import redis
import requests
import sqlalchemy as sa

from integration.core.config import Settings
from integration.core.db import utcnow
from integration.core.queues import EVENTS, event_job_id
from integration.core.redis_server import EmbeddedRedis
from integration.core.runtime import Runtime
from integration.customers.models import Order
from integration.events.dispatch import relay_once, sweep
from integration.events.intake import EventIntake
from integration.events.models import EventStatus, WebhookEvent
from tests.fakes.bigcommerce_api import (
    FakeBigCommerce,
    sample_order,
    sample_products,
    sample_shipping_addresses,
)
from tests.helpers import (
    BC_TOKEN,
    STORE_HASH,
    LiveServer,
    RuntimeFactory,
    add_shop,
    bigcommerce_body,
    crash,
    descendants,
    drain,
    fixture_bytes,
    shopify_headers,
    start_worker,
    store_bigcommerce_event,
    store_shopify_event,
    wait_until,
)

pytestmark = pytest.mark.slow


def events(runtime: Runtime) -> list[WebhookEvent]:
    with runtime.session() as session:
        return list(session.scalars(sa.select(WebhookEvent).order_by(WebhookEvent.id)))


def status_of(runtime: Runtime, event_id: int) -> str:
    with runtime.session() as session:
        return str(session.execute(sa.select(WebhookEvent.status).where(WebhookEvent.id == event_id)).scalar_one())


@pytest.fixture
def bc_runtime(make_runtime: RuntimeFactory, fake_bc: FakeBigCommerce) -> Runtime:
    """A runtime on the fake BigCommerce, whose store has order 218."""
    fake_bc.add_order(STORE_HASH, sample_order(), sample_products(), sample_shipping_addresses())
    return make_runtime(bigcommerce_api_url=fake_bc.url)


def test_a_worker_killed_mid_job_is_finished_after_the_sweep(
    bc_runtime: Runtime, fake_bc: FakeBigCommerce, intake: EventIntake
) -> None:
    add_shop(bc_runtime, "bigcommerce", STORE_HASH, token=BC_TOKEN)
    event_id = store_bigcommerce_event(intake, bigcommerce_body(resource_id=218))
    # The platform stalls on this call, so the job is mid-flight when we kill the worker.
    fake_bc.queue_response("GET", r"/v2/orders/218$", 200, body=sample_order(), delay=60)
    assert relay_once(bc_runtime) == 1

    worker = start_worker(bc_runtime.settings)
    try:
        wait_until(lambda: status_of(bc_runtime, event_id) == EventStatus.PROCESSING, message="job started")
        wait_until(lambda: fake_bc.requests_to(r"/v2/orders/218$"), message="the platform call")
        horses = descendants(worker.pid)
        assert horses, "the worker forked no work horse"
    finally:
        crash(worker)  # the worker and its work horse (which is in a process group of its own)
    wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in horses), message="the horse gone")
    assert status_of(bc_runtime, event_id) == EventStatus.PROCESSING

    # Not yet: the job may still be running as far as anyone can tell.
    assert sweep(bc_runtime).requeued == []
    report = sweep(bc_runtime, now=utcnow() + dt.timedelta(hours=1))
    assert report.requeued == [event_id]

    finisher = start_worker(bc_runtime.settings, burst=True)
    assert finisher.wait(timeout=60) == 0
    [event] = events(bc_runtime)
    assert (event.status, event.attempts) == (EventStatus.DONE, 2)
    with bc_runtime.session() as session:
        assert session.scalars(sa.select(Order.platform_order_id)).all() == ["218"]


def _post_same_delivery(args: tuple[str, bytes, dict[str, str], int]) -> list[int]:
    url, body, headers, rounds = args
    with requests.Session() as http:
        return [
            http.post(url, data=body, headers={**headers, "X-Shopify-Webhook-Id": f"dup-{i}"}, timeout=10).status_code
            for i in range(rounds)
        ]


def test_two_processes_delivering_the_same_webhooks_at_once_store_and_process_each_once(
    settings: Settings, runtime: Runtime
) -> None:
    add_shop(runtime)
    body = fixture_bytes("shopify/shopify_orders_create.json")
    headers = shopify_headers(body)
    server = LiveServer(settings, workers=2)
    try:
        rounds = 40
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            results = pool.map(_post_same_delivery, [(server.url + "/webhooks/shopify", body, headers, rounds)] * 2)
    finally:
        server.stop()
    assert all(code == 200 for codes in results for code in codes)

    stored = events(runtime)
    assert len(stored) == rounds
    assert all(e.duplicates == 1 for e in stored), [e.duplicates for e in stored]

    drain(runtime)
    drain(runtime)  # a second pass finds nothing more to do
    stored = events(runtime)
    assert {(e.status, e.attempts) for e in stored} == {(EventStatus.DONE, 1)}, [
        (e.id, e.status, e.attempts, e.last_error) for e in stored if e.status != EventStatus.DONE
    ]


def test_webhooks_arriving_while_redis_is_down_are_processed_once_it_is_back(
    make_runtime: RuntimeFactory, short_tmp: Path, request: pytest.FixtureRequest
) -> None:
    own_redis = EmbeddedRedis(short_tmp / f"outage-{request.node.name[-8:]}-{os.getpid()}", persistent=True)
    own_redis.start()
    runtime = make_runtime(redis_url=own_redis.url)
    settings = runtime.settings
    add_shop(runtime)
    server = LiveServer(settings, workers=1)
    try:
        body = fixture_bytes("shopify/shopify_orders_create.json")
        own_redis.kill()
        assert requests.get(server.url + "/readyz", timeout=5).status_code == 503
        for i in range(5):
            response = requests.post(
                server.url + "/webhooks/shopify",
                data=body,
                headers=shopify_headers(body, webhook_id=f"outage-{i}"),
            )
            assert response.status_code == 200  # stored: the platform must not retry, nothing is lost
        with pytest.raises(redis.RedisError):
            relay_once(runtime)
        waiting = [(e.id, e.status, e.queued_at, e.attempts) for e in events(runtime)]
        assert {w[2] for w in waiting} == {None}, waiting  # taken back, still waiting

        own_redis.start()
        # Redis answers again (no worker or scheduler runs in this test, which /readyz also names).
        assert requests.get(server.url + "/readyz", timeout=5).json()["checks"]["redis"] == "ok"
        drain(runtime)
        assert {e.status for e in events(runtime)} == {EventStatus.DONE}, [
            (e.id, e.status, e.attempts, e.last_error) for e in events(runtime)
        ]
    finally:
        server.stop()
        own_redis.stop()


def test_jobs_lost_with_redis_data_are_requeued_by_the_sweep(runtime: Runtime, intake: EventIntake) -> None:
    add_shop(runtime)
    body = fixture_bytes("shopify/shopify_orders_create.json")
    ids = [store_shopify_event(intake, body, webhook_id=f"lost-{i}") for i in range(3)]
    assert relay_once(runtime) == 3
    runtime.redis.flushall()  # Redis restarted without its data: the queued jobs are gone

    assert sweep(runtime).requeued == []  # too recent to call lost
    assert sorted(sweep(runtime, now=utcnow() + dt.timedelta(hours=1)).requeued) == ids
    drain(runtime)
    assert {e.status for e in events(runtime)} == {EventStatus.DONE}


def test_bigcommerce_rate_limit_then_success_over_real_http(
    bc_runtime: Runtime, fake_bc: FakeBigCommerce, intake: EventIntake
) -> None:
    add_shop(bc_runtime, "bigcommerce", STORE_HASH, token=BC_TOKEN)
    event_id = store_bigcommerce_event(intake, bigcommerce_body(resource_id=218))
    fake_bc.queue_response("GET", r"/v2/orders/218$", 429, headers={"X-Rate-Limit-Time-Reset-Ms": "1500"})

    drain(bc_runtime)
    with bc_runtime.session() as session:
        event = session.get(WebhookEvent, event_id)
        assert event is not None
        assert (event.status, event.attempts) == (EventStatus.RECEIVED, 1)
        assert "429" in (event.last_error or "") or "rate" in (event.last_error or "").lower()
    # RQ's Retry scheduled the job again (the worker's scheduler would release it after the backoff).
    registry = bc_runtime.queue(EVENTS).scheduled_job_registry
    assert event_job_id(event_id) in registry.get_job_ids()

    def released_and_done() -> bool:
        # As the worker's scheduler would: release what is due (the Retry, then, while the store's quota
        # has not reset, the event stepping aside until it does), and work the queue.
        for job_id in registry.get_job_ids():
            registry.requeue(job_id)
        drain(bc_runtime)
        return status_of(bc_runtime, event_id) == EventStatus.DONE

    wait_until(released_and_done, timeout=30, interval=0.25, message="the event done after the quota reset")
    with bc_runtime.session() as session:
        order = session.scalars(sa.select(Order)).one()
        assert (order.platform_order_id, len(order.lines)) == ("218", len(sample_products()))


def test_bigcommerce_order_gone_at_the_platform_finishes_with_the_reason(
    bc_runtime: Runtime, fake_bc: FakeBigCommerce, intake: EventIntake
) -> None:
    add_shop(bc_runtime, "bigcommerce", STORE_HASH, token=BC_TOKEN)
    event_id = store_bigcommerce_event(intake, bigcommerce_body(resource_id=9999, event_hash="f" * 40))
    drain(bc_runtime)
    with bc_runtime.session() as session:
        event = session.get(WebhookEvent, event_id)
        assert event is not None
        assert event.status == EventStatus.DONE
        assert "not found" in (event.last_error or "")
        assert session.scalars(sa.select(Order)).all() == []


def test_the_worker_command_processes_a_delivery_end_to_end(settings: Settings, runtime: Runtime) -> None:
    """make run's path: HTTP in, the scheduler's relay, a real `flask worker` process."""
    add_shop(runtime)
    server = LiveServer(settings, workers=1)
    try:
        body = fixture_bytes("shopify/shopify_orders_create.json")
        response = requests.post(server.url + "/webhooks/shopify", data=body, headers=shopify_headers(body))
        assert response.status_code == 200
    finally:
        server.stop()
    assert relay_once(runtime) == 1
    worker = start_worker(settings, burst=True)
    assert worker.wait(timeout=60) == 0
    assert {e.status for e in events(runtime)} == {EventStatus.DONE}, [
        (e.id, e.status, e.attempts, e.last_error) for e in events(runtime)
    ]
