"""Batches of events: one claim, one transaction for their changes, one bad event never holding back
the rest, a throttled store's events stepping aside, and two worker processes racing on the same events."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import pytest
import sqlalchemy as sa
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from integration.core.config import Settings
from integration.core.db import utcnow
from integration.core.queues import BULK, EVENTS, PROCESS_EVENT, PROCESS_EVENTS, event_job_id
from integration.core.runtime import Runtime
from integration.customers import timezones
from integration.customers.models import Order
from integration.events import processing
from integration.events.changes import Change, OrderChange
from integration.events.dispatch import enqueue_events, sweep
from integration.events.intake import EventIntake
from integration.events.models import EventStatus, WebhookEvent
from integration.events.processing import EventProcessor, Outcome
from integration.platforms.bigcommerce.rate_budget import StoreBudget
from integration.platforms.interfaces import QuotaWait
from integration.shops.registry import RegisteredShop
from tests.events.test_processing import FakeAdapter
from tests.fakes.bigcommerce_api import FakeBigCommerce, sample_order
from tests.helpers import (
    BC_TOKEN,
    STORE_HASH,
    RuntimeFactory,
    add_shop,
    bigcommerce_body,
    fixture_bytes,
    start_worker,
    store_bigcommerce_event,
    store_shopify_event,
)

ORDER = json.loads(fixture_bytes("shopify/shopify_orders_create.json"))


def orders(intake: EventIntake, n: int, *, customers: int = 3, prefix: str = "b") -> list[int]:
    """``n`` distinct Shopify orders spread over ``customers`` customers (so a batch has several events
    of one customer, which must apply in order)."""
    ids = []
    for k in range(n):
        customer = {**ORDER["customer"], "id": 9000 + k % customers, "email": f"c{k % customers}@example.com"}
        body = {**ORDER, "id": 100 + k, "email": customer["email"], "customer": customer}
        ids.append(store_shopify_event(intake, json.dumps(body).encode(), webhook_id=f"{prefix}-{k}"))
    return ids


def rows(runtime: Runtime, ids: Sequence[int]) -> list[WebhookEvent]:
    with runtime.session() as session:
        return list(session.scalars(sa.select(WebhookEvent).where(WebhookEvent.id.in_(ids)).order_by(WebhookEvent.id)))


def order_count(runtime: Runtime) -> int:
    with runtime.session() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(Order)) or 0)


def test_a_batch_applies_every_event_and_claims_each_once(
    runtime: Runtime, intake: EventIntake, shop: RegisteredShop
) -> None:
    ids = orders(intake, 6)
    processor = EventProcessor(runtime)
    assert processor.process_batch(ids) == dict.fromkeys(ids, Outcome.DONE)
    assert [(r.status, r.attempts) for r in rows(runtime, ids)] == [(EventStatus.DONE, 1)] * 6
    assert order_count(runtime) == 6
    # The same batch again (a sweep's re-queue): nothing is claimed, nothing applied twice.
    assert processor.process_batch(ids) == dict.fromkeys(ids, Outcome.NOT_CLAIMED)
    assert [r.attempts for r in rows(runtime, ids)] == [1] * 6


def test_one_bad_event_does_not_hold_back_its_batch(
    runtime: Runtime, intake: EventIntake, shop: RegisteredShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's one transaction fails on the bad event; the others are applied each on its own, and
    the bad one gets a job of its own with RQ's Retry, as a single event's job would."""
    ids = orders(intake, 3)
    bad = ids[1]
    real = processing.apply_change

    def failing_for_order_101(session: sa.orm.Session, shop_id: int, change: Change) -> None:
        if isinstance(change, OrderChange) and change.platform_id == "101":
            raise RuntimeError("cannot apply order 101")
        real(session, shop_id, change)

    monkeypatch.setattr(processing, "apply_change", failing_for_order_101)
    outcomes = EventProcessor(runtime).process_batch(ids)

    assert outcomes == {ids[0]: Outcome.DONE, bad: Outcome.RETRY, ids[2]: Outcome.DONE}
    done, failed, other = rows(runtime, ids)
    assert (done.status, other.status) == (EventStatus.DONE, EventStatus.DONE)
    assert failed.status == EventStatus.RECEIVED
    assert "cannot apply order 101" in (failed.last_error or "")
    assert order_count(runtime) == 2
    job = Job.fetch(event_job_id(bad), connection=runtime.redis)
    assert (job.func_name, job.args) == (PROCESS_EVENT, (bad,))
    assert job.retries_left == runtime.settings.max_attempts - 2  # this attempt counted
    assert job.id in ScheduledJobRegistry(queue=runtime.queue(EVENTS)).get_job_ids()  # type: ignore[no-untyped-call]


@pytest.fixture
def bc_runtime(make_runtime: RuntimeFactory, fake_bc: FakeBigCommerce) -> Runtime:
    fake_bc.add_store(STORE_HASH, BC_TOKEN)
    fake_bc.add_order(STORE_HASH, sample_order(id=250))
    return make_runtime(bigcommerce_api_url=fake_bc.url)


def test_a_store_out_of_api_quota_steps_aside_while_other_shops_are_processed(
    bc_runtime: Runtime, fake_bc: FakeBigCommerce
) -> None:
    """Regression for the single FIFO: a throttled BigCommerce store's event waited for its quota in the
    worker (up to 30 s) while Shopify events that need no API call queued behind it."""
    runtime = bc_runtime
    intake = EventIntake(runtime.engine)
    try:
        add_shop(runtime)
        add_shop(runtime, "bigcommerce", STORE_HASH, BC_TOKEN)
        # Every app on the store has spent its quota: the window resets in 20 s.
        StoreBudget(runtime.redis, STORE_HASH).record(None, left=0, reset_ms=20_000, quota=150, window_ms=30_000)
        bc_event = store_bigcommerce_event(intake, bigcommerce_body(resource_id=250))
        (shopify_event,) = orders(intake, 1, prefix="fair")
        before = utcnow()

        outcomes = EventProcessor(runtime).process_batch([bc_event, shopify_event])

        assert outcomes == {bc_event: Outcome.STEPPED_ASIDE, shopify_event: Outcome.DONE}
        assert fake_bc.requests_to(r"/orders/250") == []  # it did not wait for the quota, nor spend any
        (row,) = rows(runtime, [bc_event])
        assert (row.status, row.attempts) == (EventStatus.RECEIVED, 0)  # stepping aside is not a failure
        assert row.retry_at is not None
        assert before + dt.timedelta(seconds=15) <= row.retry_at <= before + dt.timedelta(seconds=21)
        # Scheduled on RQ for when the quota resets, and the sweep counts that job as alive.
        registry = ScheduledJobRegistry(queue=runtime.queue(EVENTS))  # type: ignore[no-untyped-call]
        (job_id,) = registry.get_job_ids()
        job = Job.fetch(job_id, connection=runtime.redis)
        assert (job.func_name, job.args) == (PROCESS_EVENTS, ([bc_event],))
        assert abs((registry.get_scheduled_time(job) - row.retry_at).total_seconds()) < 1  # type: ignore[no-untyped-call]
        later = row.retry_at + dt.timedelta(seconds=runtime.settings.stale_after + 1)
        assert sweep(runtime, now=later).requeued == []

        # Once the window has reset, the scheduled job processes it.
        runtime.redis.delete(f"pc:bc:{STORE_HASH}:quota")
        assert EventProcessor(runtime).process_batch([bc_event]) == {bc_event: Outcome.DONE}
    finally:
        intake._discard_connection()


def test_the_worker_is_warmed_before_its_first_job(runtime: Runtime) -> None:
    """Regression: each job's forked work horse loaded the zone data again (~470 ms a job)."""
    from integration.core.worker import warm_up

    timezones._subdivisions.cache_clear()
    timezones._country_codes.cache_clear()
    warm_up(runtime)
    assert timezones._country_codes.cache_info().currsize == 1
    assert timezones._subdivisions.cache_info().currsize > 200  # every country's, before any job asks


@pytest.mark.slow
def test_two_worker_processes_racing_on_the_same_events_process_each_once(
    settings: Settings, runtime: Runtime, intake: EventIntake, shop: RegisteredShop
) -> None:
    """Past one machine: the same events are queued twice (a relay's batch jobs and a sweep's re-queue
    of each), and two worker processes take them at once. Each event is claimed once and applied once."""
    ids = orders(intake, 40, customers=5, prefix="race")
    enqueue_events(runtime, ids)  # batch jobs
    enqueue_events(runtime, ids, batch=False)  # and a job per event, as a sweep would
    workers = [start_worker(settings, burst=True, queues="events") for _ in range(2)]
    for worker in workers:
        assert worker.wait(timeout=180) == 0
    assert [(r.status, r.attempts) for r in rows(runtime, ids)] == [(EventStatus.DONE, 1)] * len(ids)
    assert order_count(runtime) == len(ids)


def test_a_backfill_event_that_steps_aside_stays_on_the_bulk_queue(
    runtime: Runtime, intake: EventIntake, shop: RegisteredShop
) -> None:
    """Reconciliation's read-backs are bulk work: stepping aside must not move them onto the events queue."""
    event_id = store_shopify_event(intake, b"{}", topic="reconcile/order", webhook_id="backfill-1")
    adapter = FakeAdapter(error=QuotaWait("quota spent", retry_after=12))
    assert EventProcessor(runtime, adapters={"shopify": adapter}).process(event_id) is Outcome.STEPPED_ASIDE
    assert ScheduledJobRegistry(queue=runtime.queue(EVENTS)).get_job_ids() == []  # type: ignore[no-untyped-call]
    (job_id,) = ScheduledJobRegistry(queue=runtime.queue(BULK)).get_job_ids()  # type: ignore[no-untyped-call]
    job = Job.fetch(job_id, connection=runtime.redis)
    assert (job.func_name, job.args) == (PROCESS_EVENT, (event_id,))
    (row,) = rows(runtime, [event_id])
    assert sweep(runtime, now=row.retry_at + dt.timedelta(seconds=runtime.settings.stale_after + 1)).requeued == []
