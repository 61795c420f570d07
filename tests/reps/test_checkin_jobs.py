"""Each open task has one RQ job, ``checkin-{id}``, scheduled with ``enqueue_at`` for its due time, replaced
when the task moves and deleted when it closes; rows stay the truth (the sweep makes overdue tasks due)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler

from integration.core.periodic import periodic_jobs
from integration.core.queues import MAINTENANCE
from integration.core.runtime import Runtime
from integration.reps.models import CheckIn, CheckInStatus
from integration.reps.outcomes import record_outcome
from integration.reps.timers import make_due
from tests.helpers import RuntimeFactory, add_shop, drain, job_environment
from tests.reps.conftest import World, utc

# A week that has passed (so RQ's scheduler moves its jobs now) and one still to come.
PAST_DELIVERY, PAST_DUE = utc(2026, 11, 26, 15), utc(2026, 11, 30, 10)
FUTURE_DELIVERY, FUTURE_DUE = utc(2027, 3, 4, 15), utc(2027, 3, 8, 10)


def registry(runtime: Runtime) -> ScheduledJobRegistry:
    return ScheduledJobRegistry(MAINTENANCE, connection=runtime.redis)


def open_task(world: World, delivered: dt.datetime) -> CheckIn:
    world.rep("dana@shop.example")
    world.order(1001, now=delivered)
    world.deliver(1001, delivered, now=delivered)
    return world.only_checkin()


def run_rq_scheduler(runtime: Runtime) -> None:
    """One pass of RQ's own scheduler (what a worker started ``with_scheduler`` does every second)."""
    scheduler = RQScheduler([MAINTENANCE], connection=runtime.redis)
    scheduler.acquire_locks()
    try:
        scheduler.enqueue_scheduled_jobs()
    finally:
        scheduler.release_locks()


def test_a_new_task_waits_in_rq_s_scheduled_registry_for_its_due_time(world: World, runtime: Runtime) -> None:
    checkin = open_task(world, FUTURE_DELIVERY)
    job_id = f"checkin-{checkin.id}"
    assert registry(runtime).get_job_ids() == [job_id]
    assert registry(runtime).get_scheduled_time(job_id) == FUTURE_DUE
    job = Job.fetch(job_id, connection=runtime.redis)
    assert (job.func_name, job.args, job.origin) == ("jobs.reps.checkin_due", (checkin.id,), MAINTENANCE)
    due_ts = int(FUTURE_DUE.timestamp())
    assert registry(runtime).get_jobs_to_schedule(due_ts - 1) == []
    assert registry(runtime).get_jobs_to_schedule(due_ts) == [job_id]
    run_rq_scheduler(runtime)  # its time has not come: it stays where it is
    drain(runtime)
    assert registry(runtime).get_job_ids() == [job_id]
    assert world.only_checkin().status == CheckInStatus.SCHEDULED


def test_when_its_time_comes_rq_runs_the_job_and_the_task_is_due(world: World, runtime: Runtime) -> None:
    checkin = open_task(world, PAST_DELIVERY)
    assert checkin.due_at == PAST_DUE
    assert world.only_checkin().status == CheckInStatus.SCHEDULED
    run_rq_scheduler(runtime)
    assert registry(runtime).get_job_ids() == []
    drain(runtime)  # a worker runs jobs.reps.checkin_due
    assert world.only_checkin().status == CheckInStatus.DUE


def test_moving_a_task_replaces_its_job_and_closing_it_deletes_it(world: World, runtime: Runtime) -> None:
    checkin = open_task(world, FUTURE_DELIVERY)
    with runtime.session() as session:
        moved = record_outcome(session, checkin.id, checkin.rep_id, "voicemail", now=utc(2027, 3, 8, 10, 5))
    job_id = f"checkin-{checkin.id}"
    assert registry(runtime).get_job_ids() == [job_id]
    assert registry(runtime).get_scheduled_time(job_id) == moved.due_at == utc(2027, 3, 9, 10, 5)
    with runtime.session() as session:
        record_outcome(session, checkin.id, checkin.rep_id, "reached", now=utc(2027, 3, 9, 10, 6))
    assert registry(runtime).get_job_ids() == []
    with pytest.raises(NoSuchJobError):
        Job.fetch(job_id, connection=runtime.redis)


def test_cancelling_a_task_deletes_its_job(world: World, runtime: Runtime) -> None:
    checkin = open_task(world, FUTURE_DELIVERY)
    assert registry(runtime).get_job_ids() == [f"checkin-{checkin.id}"]
    world.no_calls("ann@example.com", utc(2027, 3, 5))
    assert world.only_checkin().status == CheckInStatus.CANCELLED
    assert registry(runtime).get_job_ids() == []


def test_a_rolled_back_change_leaves_redis_alone(world: World, runtime: Runtime) -> None:
    checkin = open_task(world, FUTURE_DELIVERY)
    with pytest.raises(RuntimeError), runtime.session() as session:
        record_outcome(session, checkin.id, checkin.rep_id, "reached", now=utc(2027, 3, 8, 10, 5))
        raise RuntimeError("the transaction fails after the outcome")
    assert world.only_checkin().status == CheckInStatus.SCHEDULED
    assert registry(runtime).get_job_ids() == [f"checkin-{checkin.id}"]


def test_a_job_that_fires_before_its_task_s_time_changes_nothing(world: World, runtime: Runtime) -> None:
    checkin = open_task(world, FUTURE_DELIVERY)
    with runtime.session() as session:
        assert not make_due(session, checkin.id, now=FUTURE_DUE - dt.timedelta(hours=1))
        assert make_due(session, checkin.id, now=FUTURE_DUE)
    assert world.only_checkin().status == CheckInStatus.DUE


def test_the_sweep_makes_an_overdue_task_due_when_redis_lost_its_job(world: World, runtime: Runtime) -> None:
    assert "jobs.reps.sweep_checkins" in {job.func for job in periodic_jobs()}
    checkin = open_task(world, PAST_DELIVERY)
    runtime.redis.flushall()  # Redis lost everything
    from jobs.reps import sweep_checkins

    with job_environment(runtime.settings):
        assert sweep_checkins() == 1
        assert sweep_checkins() == 0
    assert world.only_checkin().status == CheckInStatus.DUE
    assert world.only_checkin().id == checkin.id


@pytest.fixture
def runtime_without_redis(make_runtime: RuntimeFactory) -> Runtime:
    return make_runtime(redis_url="redis://127.0.0.1:9/0")  # nothing listens


def test_without_redis_the_task_is_still_stored_and_the_sweep_makes_it_due(
    runtime_without_redis: Runtime, runtime: Runtime
) -> None:
    world = World(runtime_without_redis, add_shop(runtime_without_redis).id)
    open_task(world, PAST_DELIVERY)
    assert registry(runtime).get_job_ids() == []
    with runtime.session() as session:
        assert session.scalar(sa.select(CheckIn.status)) == CheckInStatus.SCHEDULED
    with job_environment(runtime.settings):
        from jobs.reps import sweep_checkins

        assert sweep_checkins() == 1
