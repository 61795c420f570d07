"""The roster over time: away reps come back on their own clock (a periodic job), and a leaver's open
check-ins follow their customers, to the pool and on to whichever rep takes them."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from rq.registry import ScheduledJobRegistry

from integration.core.periodic import periodic_jobs
from integration.core.queues import EVENTS, MAINTENANCE
from integration.core.runtime import Runtime
from integration.reps.models import Rep, RepState
from integration.reps.roster import RepInput, add_rep, hand_over, leave, return_due_reps, send_away
from integration.reps.tasks import RETURN_AWAY_REPS, unfinished_hand_overs
from integration.reps.timers import make_due
from tests.helpers import job_environment
from tests.reps.conftest import World, utc


def state_of(world: World, rep_id: int) -> tuple[str, dt.date | None, int | None]:
    with world.runtime.session() as session:
        rep = session.get_one(Rep, rep_id)
        return rep.state, rep.away_until, rep.backup_rep_id


def away_until(world: World, rep_id: int, backup_id: int, until: dt.date) -> None:
    with world.runtime.session() as session:
        send_away(session, session.get_one(Rep, rep_id), until, session.get_one(Rep, backup_id), today=until)


def test_away_reps_come_back_after_their_last_day_on_their_own_clock(world: World) -> None:
    lee = world.rep("lee@shop.example", zone="America/Los_Angeles")
    dana = world.rep("dana@shop.example", zone="Europe/London")
    eli = world.rep("eli@shop.example", zone="Europe/London")
    away_until(world, lee, eli, dt.date(2027, 3, 10))
    away_until(world, dana, eli, dt.date(2027, 3, 10))
    with world.runtime.session() as session:
        # 01:00 UTC on the 11th: London's 11th has begun, Los Angeles is still on the 10th (18:00).
        assert return_due_reps(session, now=utc(2027, 3, 11, 1)) == [dana]
    assert state_of(world, dana) == (RepState.ACTIVE, None, None)
    assert state_of(world, lee) == (RepState.AWAY, dt.date(2027, 3, 10), eli)
    with world.runtime.session() as session:
        assert return_due_reps(session, now=utc(2027, 3, 11, 7, 59)) == []  # 23:59 in Los Angeles
        assert return_due_reps(session, now=utc(2027, 3, 11, 8)) == [lee]  # midnight there
    assert state_of(world, lee) == (RepState.ACTIVE, None, None)


def test_the_scheduler_runs_the_return_of_away_reps(world: World, runtime: Runtime) -> None:
    assert RETURN_AWAY_REPS in periodic_jobs()
    assert RETURN_AWAY_REPS.func == "jobs.reps.return_away_reps"
    back = world.rep("back@shop.example", zone="Pacific/Kiritimati")  # UTC+14: the first to see a date
    still = world.rep("still@shop.example", zone="Pacific/Pago_Pago")  # UTC-11: the last
    eli = world.rep("eli@shop.example")
    today = dt.datetime.now(dt.UTC).date()
    since = today - dt.timedelta(days=9)
    with world.runtime.session() as session:  # dates chosen so that no clock anywhere is near them
        for rep_id, until in ((back, today - dt.timedelta(days=3)), (still, today + dt.timedelta(days=3))):
            session.execute(
                sa.update(Rep)
                .where(Rep.id == rep_id)
                .values(state=RepState.AWAY, away_from=since, away_until=until, backup_rep_id=eli)
            )
    from jobs.reps import return_away_reps

    with job_environment(runtime.settings):
        assert return_away_reps() == 1
        assert return_away_reps() == 0
    assert state_of(world, back)[0] == RepState.ACTIVE
    assert state_of(world, still)[0] == RepState.AWAY


# --- a leaver's open calls follow their customers ----------------------------------------------------

DELIVERED = utc(2027, 3, 4, 15)  # Thursday: first callable Saturday, so Monday 8 March in every window
HANDED_OVER = utc(2027, 3, 5, 12)


def task_and_job(world: World, runtime: Runtime) -> tuple[int | None, dt.datetime, str, dt.datetime | None]:
    """The only check-in's rep, due time and status, and when its RQ job is scheduled to fire."""
    checkin = world.only_checkin()
    registry = ScheduledJobRegistry(MAINTENANCE, connection=runtime.redis)
    job_id = f"checkin-{checkin.id}"
    fires = registry.get_scheduled_time(job_id) if job_id in registry.get_job_ids() else None
    return checkin.rep_id, checkin.due_at, checkin.status, fires


def leaves(world: World, rep_id: int) -> tuple[int, int]:
    with world.runtime.session() as session:
        leave(session, session.get_one(Rep, rep_id))
    with world.runtime.session() as session:
        return hand_over(session, rep_id, now=HANDED_OVER)


def full_rep(world: World, email: str) -> int:
    """A rep whose one place is taken (by a customer with no order to call about)."""
    with world.runtime.session() as session:
        rep = add_rep(session, world.shop_id, RepInput(name="Full", email=email, time_zone="Europe/London", capacity=1))
        rep.book_size = 1
        return rep.id


def test_a_pooled_customer_s_call_waits_with_them_then_follows_them_to_their_new_rep(
    world: World, runtime: Runtime
) -> None:
    leaver = world.rep("leaver@shop.example", zone="Europe/London", hours="Mon-Fri 14:00-17:00")
    world.order(1001, now=DELIVERED)
    world.deliver(1001, DELIVERED, now=DELIVERED)
    assert task_and_job(world, runtime) == (leaver, utc(2027, 3, 8, 14), "scheduled", utc(2027, 3, 8, 14))
    full_rep(world, "full@shop.example")
    assert leaves(world, leaver) == (0, 1)
    # In the pool: nobody's call yet, placed in the customer's window alone (10:00 London), its job moved.
    assert world.customer().rep_id is None
    assert task_and_job(world, runtime) == (None, utc(2027, 3, 8, 10), "scheduled", utc(2027, 3, 8, 10))
    # Room appears: the pool is assigned, and the call goes to the new rep, inside her hours (11:00 in New
    # York is 16:00 in London) and Ann's window.
    nia = world.rep("nia@shop.example", zone="America/New_York", hours="Mon-Fri 11:00-17:00")
    assert world.customer().rep_id == nia
    assert task_and_job(world, runtime) == (nia, utc(2027, 3, 8, 16), "scheduled", utc(2027, 3, 8, 16))


def test_calls_handed_over_with_the_book_move_into_the_new_rep_s_hours(world: World, runtime: Runtime) -> None:
    leaver = world.rep("leaver@shop.example", zone="Europe/London", hours="Mon-Fri 14:00-17:00")
    world.order(1001, now=DELIVERED)
    world.deliver(1001, DELIVERED, now=DELIVERED)
    nia = world.rep("nia@shop.example", zone="America/New_York", hours="Mon-Fri 11:00-17:00")
    assert leaves(world, leaver) == (1, 0)
    assert task_and_job(world, runtime) == (nia, utc(2027, 3, 8, 16), "scheduled", utc(2027, 3, 8, 16))


def test_a_call_already_due_follows_the_customer_and_stays_due(world: World, runtime: Runtime) -> None:
    leaver = world.rep("leaver@shop.example", zone="Europe/London", hours="Mon-Fri 14:00-17:00")
    world.order(1001, now=DELIVERED)
    world.deliver(1001, DELIVERED, now=DELIVERED)
    with world.runtime.session() as session:
        assert make_due(session, world.only_checkin().id, now=utc(2027, 3, 8, 14))
    nia = world.rep("nia@shop.example", zone="America/New_York", hours="Mon-Fri 11:00-17:00")
    assert leaves(world, leaver) == (1, 0)
    rep_id, due_at, status, _job = task_and_job(world, runtime)
    assert (rep_id, due_at, status) == (nia, utc(2027, 3, 8, 14), "due")  # on Nia's list now, not hidden


def test_a_lost_hand_over_is_queued_again_by_the_sweep_and_done(world: World, runtime: Runtime) -> None:
    """Regression: the hand-over job was queued once, after the leave committed; if Redis lost it (a restart
    before it ran) the leaver's customers stayed with someone who left, for good."""
    leaver = world.rep("leaver@shop.example")
    world.order(1001, now=DELIVERED)
    taker = world.rep("taker@shop.example")
    with world.runtime.session() as session:
        leave(session, session.get_one(Rep, leaver))
    runtime.redis.flushall()  # Redis restarted empty: the hand-over job is gone
    assert world.customer().rep_id == leaver

    from jobs.reps import hand_over as hand_over_job
    from jobs.reps import sweep_checkins

    with job_environment(runtime.settings):
        sweep_checkins()
        queued = runtime.queue(EVENTS).job_ids
        assert queued == [f"hand-over-{leaver}"]
        sweep_checkins()  # already waiting: not queued twice
        assert runtime.queue(EVENTS).job_ids == queued
        assert hand_over_job(leaver) == {"moved": 1, "waiting": 0}
    assert world.customer().rep_id == taker
    with world.runtime.session() as session:
        assert unfinished_hand_overs(session) == []
