"""The relay (stored rows to RQ, in batches) and the sweep (lost or stuck rows), with a real Redis."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence

import pytest
import redis
import sqlalchemy as sa
from rq.job import Job, JobStatus

from integration.core.db import utcnow
from integration.core.queues import EVENT_BATCH, EVENTS, PROCESS_EVENTS, batch_job_id, event_job_id
from integration.core.runtime import Runtime
from integration.events import dispatch
from integration.events.dispatch import processing_timeout, relay_once, sweep
from integration.events.intake import EventIntake
from integration.events.models import EventStatus, WebhookEvent
from integration.events.processing import EventProcessor, Outcome
from integration.platforms.interfaces import TransientPlatformError
from integration.shops.registry import RegisteredShop
from tests.events.test_processing import FakeAdapter
from tests.helpers import RuntimeFactory, drain, fixture_bytes, store_shopify_event

NOWHERE = "unix:///tmp/nonexistent.sock"
_keys = itertools.count()


def store(intake: EventIntake, n: int = 1, *, body: bytes = b"{}", ignored: str | None = None) -> list[int]:
    return [store_shopify_event(intake, body, webhook_id=f"wh-{next(_keys)}", ignored_reason=ignored) for _ in range(n)]


def rows(runtime: Runtime, ids: Sequence[int]) -> list[WebhookEvent]:
    with runtime.session() as session:
        return list(session.scalars(sa.select(WebhookEvent).where(WebhookEvent.id.in_(ids)).order_by(WebhookEvent.id)))


def queued_job_ids(runtime: Runtime) -> list[str]:
    return list(runtime.queue(EVENTS).get_job_ids())


def queued_events(runtime: Runtime) -> list[int]:
    """The events the events queue's jobs name, in queue order (batch jobs and single-event jobs)."""
    ids: list[int] = []
    for job in Job.fetch_many(queued_job_ids(runtime), connection=runtime.redis):
        assert job is not None
        ids += job.args[0] if job.func_name == PROCESS_EVENTS else [job.args[0]]
    return ids


def later(runtime: Runtime, seconds: float) -> dt.datetime:
    return utcnow() + dt.timedelta(seconds=seconds)


def past_stale(runtime: Runtime) -> dt.datetime:
    """A sweep time at which everything queued until now counts as lost if its job is gone."""
    return later(runtime, runtime.settings.stale_after + 1)


@pytest.fixture
def unreachable_redis(make_runtime: RuntimeFactory) -> Runtime:
    return make_runtime(redis_url=NOWHERE)


# --- relay -----------------------------------------------------------------------------------------


def test_relay_enqueues_waiting_events_in_one_batch(
    runtime: Runtime, intake: EventIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = store(intake, 3)
    batches: list[list[int]] = []
    real_enqueue = dispatch.enqueue_events

    def recording(runtime: Runtime, event_ids: Sequence[int], topics: Mapping[int, str] | None = None) -> None:
        batches.append(list(event_ids))
        real_enqueue(runtime, event_ids, topics)

    monkeypatch.setattr(dispatch, "enqueue_events", recording)
    before = utcnow()
    assert relay_once(runtime) == 3
    after = utcnow()

    assert batches == [ids]
    # One job for the batch: RQ's cost per job is paid once per EVENT_BATCH events.
    assert queued_job_ids(runtime) == [batch_job_id(ids)] == [f"events-{ids[0]}-{ids[-1]}-3"]
    job = Job.fetch(batch_job_id(ids), connection=runtime.redis)
    assert job.func_name == PROCESS_EVENTS
    assert job.args == (ids,)
    assert job.origin == EVENTS
    assert job.timeout == runtime.settings.job_timeout
    assert job.retries_left is None  # a failed event is retried by a job of its own
    assert job.get_status() == JobStatus.QUEUED
    for row in rows(runtime, ids):
        assert row.status == EventStatus.RECEIVED
        assert row.queued_at is not None
        assert before <= row.queued_at <= after


def test_relay_returns_zero_when_nothing_waits(runtime: Runtime, intake: EventIntake) -> None:
    assert relay_once(runtime) == 0
    store(intake, 1, ignored="not handled")  # born ignored: never queued
    assert relay_once(runtime) == 0
    assert queued_job_ids(runtime) == []


def test_relay_does_not_enqueue_twice(runtime: Runtime, intake: EventIntake) -> None:
    first = store(intake, 2)
    assert relay_once(runtime) == 2
    stamps = [row.queued_at for row in rows(runtime, first)]
    assert relay_once(runtime) == 0
    second = store(intake, 1)
    assert relay_once(runtime) == 1
    assert queued_events(runtime) == first + second
    assert [row.queued_at for row in rows(runtime, first)] == stamps


def test_relay_takes_at_most_limit_rows_oldest_first(runtime: Runtime, intake: EventIntake) -> None:
    ids = store(intake, 5)
    assert relay_once(runtime, limit=2) == 2
    assert queued_events(runtime) == ids[:2]
    assert relay_once(runtime, limit=2) == 2
    assert relay_once(runtime, limit=2) == 1
    assert relay_once(runtime, limit=2) == 0
    assert queued_events(runtime) == ids


def test_relay_with_redis_unreachable_raises_and_releases_the_rows(
    runtime: Runtime, intake: EventIntake, unreachable_redis: Runtime
) -> None:
    ids = store(intake, 2)
    with pytest.raises(redis.RedisError):
        relay_once(unreachable_redis)
    assert [row.queued_at for row in rows(runtime, ids)] == [None, None]
    assert [row.status for row in rows(runtime, ids)] == [EventStatus.RECEIVED] * 2
    # Once Redis answers again the same rows go out.
    assert relay_once(runtime) == 2
    assert queued_events(runtime) == ids


def test_relayed_events_are_processed_by_a_worker(runtime: Runtime, intake: EventIntake, shop: RegisteredShop) -> None:
    (event_id,) = store(intake, 1, body=fixture_bytes("shopify/shopify_orders_create.json"))
    drain(runtime)
    (row,) = rows(runtime, [event_id])
    assert (row.status, row.attempts) == (EventStatus.DONE, 1)
    job = Job.fetch(batch_job_id([event_id]), connection=runtime.redis)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == {Outcome.DONE.value: 1}


def test_the_relay_splits_a_backlog_into_batches_in_id_order(runtime: Runtime, intake: EventIntake) -> None:
    ids = store(intake, EVENT_BATCH + 2)
    assert relay_once(runtime) == len(ids)
    assert queued_job_ids(runtime) == [batch_job_id(ids[:EVENT_BATCH]), batch_job_id(ids[EVENT_BATCH:])]
    assert queued_events(runtime) == ids


# --- sweep -----------------------------------------------------------------------------------------


def test_sweep_requeues_an_event_whose_job_redis_lost(
    runtime: Runtime, intake: EventIntake, shop: RegisteredShop
) -> None:
    (event_id,) = store(intake, 1, body=fixture_bytes("shopify/shopify_orders_create.json"))
    assert relay_once(runtime) == 1
    (before,) = rows(runtime, [event_id])
    runtime.redis.flushall()  # Redis lost its data

    # Not yet: it was queued moments ago, and may simply be waiting.
    report = sweep(runtime)
    assert (report.requeued, report.still_queued) == ([], 0)

    report = sweep(runtime, now=past_stale(runtime))
    assert report.requeued == [event_id]
    assert report.still_queued == 0
    assert queued_job_ids(runtime) == [event_job_id(event_id)]
    (after,) = rows(runtime, [event_id])
    assert after.queued_at is not None
    assert before.queued_at is not None
    assert after.queued_at >= before.queued_at

    drain(runtime)
    (done,) = rows(runtime, [event_id])
    assert done.status == EventStatus.DONE


def test_sweep_requeues_an_event_whose_job_a_dead_worker_popped(
    runtime: Runtime, intake: EventIntake, shop: RegisteredShop
) -> None:
    """Regression: a SIGKILLed worker's BLPOP stays open in Redis while its RQ scheduler child (which
    holds a copy of the socket) lives on; Redis hands the next job to that dead connection, so the job
    hash says "queued" but no queue holds it, and the sweep took "queued" for alive: never processed."""
    (event_id,) = store(intake, 1, body=fixture_bytes("shopify/shopify_orders_create.json"))
    assert relay_once(runtime) == 1
    queue = runtime.queue(EVENTS)
    assert runtime.redis.blpop([queue.key], timeout=1) is not None  # popped, never read
    assert Job.fetch(batch_job_id([event_id]), connection=runtime.redis).get_status() == JobStatus.QUEUED

    report = sweep(runtime, now=past_stale(runtime))

    assert report.requeued == [event_id]
    drain(runtime)
    (done,) = rows(runtime, [event_id])
    assert done.status == EventStatus.DONE


def test_sweep_leaves_an_event_whose_job_is_still_queued(runtime: Runtime, intake: EventIntake) -> None:
    (event_id,) = store(intake, 1)
    assert relay_once(runtime) == 1
    (before,) = rows(runtime, [event_id])
    report = sweep(runtime, now=past_stale(runtime))
    assert report.requeued == []
    assert report.still_queued == 1
    assert queued_job_ids(runtime) == [batch_job_id([event_id])]
    (after,) = rows(runtime, [event_id])
    assert after.queued_at == before.queued_at


def test_sweep_requeues_an_event_whose_job_finished_without_finishing_the_event(
    runtime: Runtime, intake: EventIntake
) -> None:
    (event_id,) = store(intake, 1)
    assert relay_once(runtime) == 1
    job = Job.fetch(batch_job_id([event_id]), connection=runtime.redis)
    runtime.queue(EVENTS).remove(job)
    job.set_status(JobStatus.FAILED)
    report = sweep(runtime, now=past_stale(runtime))
    assert report.requeued == [event_id]
    assert Job.fetch(event_job_id(event_id), connection=runtime.redis).get_status() == JobStatus.QUEUED


def test_sweep_hands_back_an_event_stuck_in_processing(
    runtime: Runtime, intake: EventIntake, shop: RegisteredShop
) -> None:
    (event_id,) = store(intake, 1, body=fixture_bytes("shopify/shopify_orders_create.json"))
    assert relay_once(runtime) == 1
    # A worker claimed it and died mid-job; its job is gone with it.
    assert EventProcessor(runtime).claim(event_id)
    runtime.redis.flushall()
    timeout = processing_timeout(runtime)
    assert timeout > dt.timedelta(seconds=runtime.settings.job_timeout)

    # Within the processing timeout the worker may still be running: left alone.
    report = sweep(runtime, now=later(runtime, timeout.total_seconds() - 5))
    assert report.requeued == []
    (row,) = rows(runtime, [event_id])
    assert row.status == EventStatus.PROCESSING

    report = sweep(runtime, now=later(runtime, timeout.total_seconds() + 1))
    assert report.requeued == [event_id]
    (row,) = rows(runtime, [event_id])
    assert row.status == EventStatus.RECEIVED
    assert row.last_error == "worker died while processing; re-queued"
    assert queued_job_ids(runtime) == [event_job_id(event_id)]

    drain(runtime)
    (row,) = rows(runtime, [event_id])
    assert row.status == EventStatus.DONE
    assert row.attempts == 2
    assert row.last_error is None


def test_sweep_waits_for_retry_at(runtime: Runtime, intake: EventIntake, shop: RegisteredShop) -> None:
    (event_id,) = store(intake, 1)
    assert relay_once(runtime) == 1
    runtime.redis.flushall()
    adapter = FakeAdapter(error=TransientPlatformError("429"))
    processor = EventProcessor(runtime, adapters={"shopify": adapter})
    assert processor.process(event_id, retries_left=0) is Outcome.RETRY
    (row,) = rows(runtime, [event_id])
    assert row.retry_at is not None

    # Long past stale_after, but before retry_at: not swept yet.
    report = sweep(runtime, now=row.retry_at - dt.timedelta(seconds=1))
    assert report.requeued == []
    assert queued_job_ids(runtime) == []

    report = sweep(runtime, now=row.retry_at + dt.timedelta(seconds=1))
    assert report.requeued == [event_id]
    assert queued_job_ids(runtime) == [event_job_id(event_id)]


def test_sweep_ignores_finished_events(runtime: Runtime, intake: EventIntake) -> None:
    ids = store(intake, 3)
    assert relay_once(runtime) == 3
    runtime.redis.flushall()
    with runtime.session() as session:
        for event_id, status in zip(ids, (EventStatus.DONE, EventStatus.FAILED, EventStatus.QUARANTINED), strict=True):
            session.execute(sa.update(WebhookEvent).where(WebhookEvent.id == event_id).values(status=status))
    report = sweep(runtime, now=later(runtime, 86_400))
    assert (report.requeued, report.still_queued) == ([], 0)
    assert queued_job_ids(runtime) == []


def test_sweep_with_nothing_to_do(runtime: Runtime) -> None:
    report = sweep(runtime)
    assert (report.requeued, report.still_queued) == ([], 0)
