"""The roster over time: away reps come back on their own clock (a periodic job), and a leaver's open
check-ins follow their customers, to the pool and on to whichever rep takes them."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from integration.core.periodic import periodic_jobs
from integration.core.runtime import Runtime
from integration.reps.models import Rep, RepState
from integration.reps.roster import return_due_reps, send_away
from integration.reps.tasks import RETURN_AWAY_REPS
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
