"""Calls made: outcomes close, move or give up on a task; follow-ups; "do not call"; the timeline."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from integration.customers.models import TimelineEntry
from integration.reps.models import CheckIn, CheckInAttempt, CheckInStatus
from integration.reps.outcomes import OutcomeError, record_outcome
from tests.reps.conftest import World, utc

DELIVERED = utc(2027, 3, 4, 15)  # Thursday; the call is due Monday 8 March 10:00 London (UTC)
DUE = utc(2027, 3, 8, 10)


@pytest.fixture
def task(world: World) -> tuple[int, int]:
    """(check-in id, rep id) of Ann's first call."""
    dana = world.rep("dana@shop.example")
    world.order(1001, now=DELIVERED)
    world.deliver(1001, DELIVERED, now=DELIVERED)
    checkin = world.only_checkin()
    assert checkin.due_at == DUE
    return checkin.id, dana


def record(world: World, checkin_id: int, rep_id: int, outcome: str, at: dt.datetime, **kw: object) -> object:
    with world.runtime.session() as session:
        return record_outcome(session, checkin_id, rep_id, outcome, now=at, **kw)  # type: ignore[arg-type]


def calls_on_timeline(world: World) -> list[str]:
    with world.runtime.session() as session:
        return list(
            session.scalars(
                sa.select(TimelineEntry.summary).where(TimelineEntry.kind == "call").order_by(TimelineEntry.at)
            )
        )


def get(world: World, checkin_id: int) -> CheckIn:
    with world.runtime.session() as session:
        checkin = session.get(CheckIn, checkin_id)
        assert checkin is not None
        return checkin


def test_no_answer_moves_the_task_to_the_next_slot_and_the_third_attempt_closes_it_unreachable(
    world: World, task: tuple[int, int]
) -> None:
    checkin_id, dana = task
    record(world, checkin_id, dana, "voicemail", utc(2027, 3, 8, 10, 5))
    after_one = get(world, checkin_id)
    assert (after_one.status, after_one.attempts, after_one.due_at) == ("scheduled", 1, utc(2027, 3, 9, 10, 5))
    record(world, checkin_id, dana, "no_answer", utc(2027, 3, 12, 16, 30))  # Friday: Saturday is no day to call
    after_two = get(world, checkin_id)
    assert (after_two.status, after_two.attempts, after_two.due_at) == ("scheduled", 2, utc(2027, 3, 15, 10))
    record(world, checkin_id, dana, "voicemail", utc(2027, 3, 15, 10, 2))
    closed = get(world, checkin_id)
    assert (closed.status, closed.attempts, closed.closed_at) == ("unreachable", 3, utc(2027, 3, 15, 10, 2))
    assert closed.close_reason == "no answer after 3 attempts"
    assert calls_on_timeline(world) == [
        "Check-in call by Dana: left a voicemail",
        "Check-in call by Dana: no answer",
        "Check-in call by Dana: left a voicemail; unreachable after 3 attempts",
    ]
    with pytest.raises(OutcomeError, match="unreachable"):
        record(world, checkin_id, dana, "reached", utc(2027, 3, 16, 10))


def test_reached_closes_the_task_records_the_answers_and_books_the_follow_up(
    world: World, task: tuple[int, int]
) -> None:
    checkin_id, dana = task
    result = record(
        world,
        checkin_id,
        dana,
        "reached",
        utc(2027, 3, 8, 10, 20),
        notes="Loves the teapot ",
        recommend=9,
        improve="A lid that does not rattle",
        improve_product_id="p1",
        follow_up_at=dt.date(2027, 4, 1),
        follow_up_note="Ask about the cups",
    )
    done = get(world, checkin_id)
    assert (done.status, done.close_reason, done.closed_at) == ("done", "reached", utc(2027, 3, 8, 10, 20))
    with world.runtime.session() as session:
        attempt = session.scalars(sa.select(CheckInAttempt)).one()
        follow_up = session.scalars(sa.select(CheckIn).where(CheckIn.kind == "follow_up")).one()
    assert (attempt.outcome, attempt.recommend, attempt.notes, attempt.improve_product_id, attempt.rep_id) == (
        "reached",
        9,
        "Loves the teapot",
        "p1",
        dana,
    )
    assert result.follow_up_id == follow_up.id  # type: ignore[attr-defined]
    # 1 April, first slot: 10:00 in London, which is on summer time (UTC+1) by then.
    assert (follow_up.status, follow_up.due_at, follow_up.note) == (
        "scheduled",
        utc(2027, 4, 1, 9),
        "Ask about the cups",
    )
    assert follow_up.rep_id == dana
    assert calls_on_timeline(world) == [
        "Check-in call by Dana: reached; would recommend 9/10; improve: A lid that does not rattle; "
        "notes: Loves the teapot"
    ]


@pytest.mark.parametrize(("outcome", "do_not_call"), [("declined", False), ("reached", True)])
def test_a_customer_who_says_no_more_calls_is_opted_out_and_keeps_no_task(
    world: World, task: tuple[int, int], outcome: str, do_not_call: bool
) -> None:
    checkin_id, dana = task
    with world.runtime.session() as session:  # a follow-up already booked by an earlier call
        session.add(
            CheckIn(
                shop_id=world.shop_id,
                customer_id=world.customer().id,
                rep_id=dana,
                kind="follow_up",
                status=CheckInStatus.SCHEDULED,
                due_at=utc(2027, 3, 20, 10),
            )
        )
    record(
        world,
        checkin_id,
        dana,
        outcome,
        utc(2027, 3, 8, 10, 5),
        do_not_call=do_not_call,
        follow_up_at=dt.date(2027, 5, 3),
    )
    statuses = {(c.kind, c.status) for c in world.checkins()}
    assert statuses == {("post_purchase", "done"), ("follow_up", "cancelled")}
    customer = world.customer()
    assert (customer.call_consent, customer.call_consent_at) == ("unsubscribed", utc(2027, 3, 8, 10, 5))
    world.order(1002, now=utc(2027, 5, 10))
    world.deliver(1002, utc(2027, 5, 10), now=utc(2027, 5, 10))
    assert len(world.checkins()) == 2  # no new call, and no follow-up was booked


def test_a_wrong_number_closes_the_task(world: World, task: tuple[int, int]) -> None:
    checkin_id, dana = task
    record(world, checkin_id, dana, "wrong_number", utc(2027, 3, 8, 10, 5))
    assert (get(world, checkin_id).status, get(world, checkin_id).close_reason) == ("done", "wrong_number")
    assert calls_on_timeline(world) == ["Check-in call by Dana: wrong number"]


@pytest.mark.parametrize(
    ("outcome", "kw", "message"),
    [
        ("hung_up", {}, "unknown outcome"),
        ("reached", {"recommend": 11}, "0 to 10"),
        ("reached", {"follow_up_at": dt.datetime(2027, 4, 1, 10)}, "time zone"),
    ],
)
def test_what_cannot_be_recorded_is_refused_and_nothing_changes(
    world: World, task: tuple[int, int], outcome: str, kw: dict[str, object], message: str
) -> None:
    checkin_id, dana = task
    with pytest.raises(OutcomeError, match=message), world.runtime.session() as session:
        record_outcome(session, checkin_id, dana, outcome, now=utc(2027, 3, 8, 10, 5), **kw)  # type: ignore[arg-type]
    assert (get(world, checkin_id).status, get(world, checkin_id).attempts) == ("scheduled", 0)
    assert calls_on_timeline(world) == []
