"""When calls fall: inside the customer's window and the working rep's hours across zones and clock changes,
and worked by the backup in the rep's away dates."""

from __future__ import annotations

import datetime as dt

import pytest

from integration.reps.listing import CheckInView, list_checkins
from integration.reps.models import Rep
from integration.reps.roster import come_back, send_away
from tests.reps.conftest import World, utc

DAY = dt.timedelta(days=2)  # the shop's default delay: a delivery at T is first callable at T + 2 days


def views(world: World, rep_id: int | None = None) -> dict[str, CheckInView]:
    with world.runtime.session() as session:
        return {v.customer_email or "": v for v in list_checkins(session, world.shop_id, rep_id=rep_id)}


def call_for(world: World, email: str, zone: str, first_callable: dt.datetime) -> CheckInView:
    """A customer in ``zone`` whose parcel arrives so that the call may happen from ``first_callable``."""
    number = 1000 + len(views(world)) + 1
    world.order(number, email=email, zone=zone, now=first_callable - DAY)
    world.deliver(number, first_callable - DAY, now=first_callable - DAY)
    return views(world)[email]


def local(moment: dt.datetime | None) -> tuple[str, int, int]:
    assert moment is not None
    return moment.strftime("%a"), moment.hour, moment.minute


def test_new_york_spring_forward_week_keeps_the_call_at_ten_local(world: World) -> None:
    world.rep("nia@shop.example", zone="America/New_York", hours="Mon-Fri 09:00-17:00")
    before = call_for(world, "a@example.com", "America/New_York", utc(2027, 3, 7, 20))  # Sunday, EST
    after = call_for(world, "b@example.com", "America/New_York", utc(2027, 3, 14, 20))  # the Sunday clocks change
    assert before.due_at == utc(2027, 3, 8, 15)  # Monday 10:00 EST (UTC-5)
    assert after.due_at == utc(2027, 3, 15, 14)  # Monday 10:00 EDT (UTC-4)
    for view in (before, after):
        assert local(view.customer_local_due) == ("Mon", 10, 0) == local(view.rep_local_due)
        assert not view.outside_window


def test_on_the_night_the_clocks_spring_forward_a_sunday_window_opens_at_ten_local(world: World) -> None:
    world.settings(calling_window="Mon-Sun 10:00-19:00")
    world.rep("nia@shop.example", zone="America/New_York", hours="Mon-Sun 09:00-17:00")
    view = call_for(world, "a@example.com", "America/New_York", utc(2027, 3, 14, 0, 30))  # Sat 19:30 EST
    assert view.due_at == utc(2027, 3, 14, 14)  # Sunday 10:00 EDT, the clocks having moved at 02:00
    assert local(view.customer_local_due) == ("Sun", 10, 0)


def test_sydney_customer_with_a_london_rep_across_both_clock_changes(world: World) -> None:
    world.rep("lou@shop.example", zone="Europe/London", hours="Mon-Fri 08:00-18:00")
    # Until London's clocks go forward (28 March) Sydney's 10-19 and London's 08-18 never meet.
    apart = call_for(world, "a@example.com", "Australia/Sydney", utc(2027, 3, 15))
    assert (apart.due_at, apart.outside_window) == (utc(2027, 3, 15, 8), True)  # the rep's next hour
    assert local(apart.customer_local_due) == ("Mon", 19, 0)  # which is outside the customer's window
    # London on summer time, Sydney still on daylight time (UTC+11): the hour that is 18:00 in Sydney.
    first_overlap = call_for(world, "b@example.com", "Australia/Sydney", utc(2027, 3, 25))
    assert (first_overlap.due_at, first_overlap.outside_window) == (utc(2027, 3, 29, 7), False)
    assert local(first_overlap.customer_local_due) == ("Mon", 18, 0)
    assert local(first_overlap.rep_local_due) == ("Mon", 8, 0)
    # Sydney back on standard time (4 April, UTC+10): the window meets London an hour earlier in Sydney.
    later = call_for(world, "c@example.com", "Australia/Sydney", utc(2027, 4, 5))
    assert (later.due_at, later.outside_window) == (utc(2027, 4, 5, 7), False)
    assert local(later.customer_local_due) == ("Mon", 17, 0)


@pytest.mark.parametrize(
    ("first_callable", "due", "rep_local"),
    [
        (utc(2027, 3, 8), utc(2027, 3, 8, 18), 18),  # both on winter time
        (utc(2027, 3, 15), utc(2027, 3, 15, 17), 17),  # California on summer time, Ireland not yet
        (utc(2027, 3, 29), utc(2027, 3, 29, 17), 18),  # both on summer time
    ],
)
def test_a_rep_in_europe_calls_california_at_ten_in_the_morning_there(
    world: World, first_callable: dt.datetime, due: dt.datetime, rep_local: int
) -> None:
    world.rep("orla@shop.example", zone="Europe/Dublin", hours="Mon-Fri 12:00-20:00")
    view = call_for(world, "cal@example.com", "America/Los_Angeles", first_callable)
    assert (view.due_at, view.outside_window) == (due, False)
    assert local(view.customer_local_due) == ("Mon", 10, 0)
    assert local(view.rep_local_due) == ("Mon", rep_local, 0)


def test_no_common_hour_within_a_week_is_due_in_the_rep_s_next_hour_and_flagged(world: World) -> None:
    world.rep("bea@shop.example", zone="Europe/Berlin", hours="Mon-Fri 09:00-17:00")
    view = call_for(world, "cal@example.com", "America/Los_Angeles", utc(2027, 3, 8))
    assert (view.due_at, view.outside_window) == (utc(2027, 3, 8, 8), True)  # Monday 09:00 in Berlin
    assert local(view.customer_local_due) == ("Mon", 0, 0)


def test_an_away_rep_s_calls_go_to_the_backup_in_the_away_dates_and_stay_in_the_book(world: World) -> None:
    dana = world.rep("dana@shop.example", zone="Europe/London", hours="Mon-Fri 09:00-17:00")
    eli = world.rep("eli@shop.example", zone="America/New_York", hours="Mon-Fri 09:00-17:00")
    with world.runtime.session() as session:
        away, backup = session.get(Rep, dana), session.get(Rep, eli)
        assert away is not None and backup is not None
        send_away(session, away, dt.date(2027, 3, 10), backup, today=dt.date(2027, 3, 1))
    during = call_for(world, "ann@example.com", "Europe/London", utc(2027, 3, 6, 15))  # due Monday 8th
    after = call_for(world, "bo@example.com", "Europe/London", utc(2027, 3, 11, 12))  # due Thursday 11th
    assert during.owner is not None and during.owner.id == dana  # the book stays Dana's
    assert during.worker is not None and during.worker.id == eli
    # Worked by Eli: in his hours (New York, 09:00 EST = 14:00 UTC) and Ann's window (10-19 London).
    assert during.due_at == utc(2027, 3, 8, 14)
    assert local(during.rep_local_due) == ("Mon", 9, 0)
    assert after.worker is not None and after.worker.id == dana
    assert after.due_at == utc(2027, 3, 11, 12)
    assert set(views(world, rep_id=eli)) == {"ann@example.com"}
    assert set(views(world, rep_id=dana)) == {"bo@example.com"}
    with world.runtime.session() as session:  # Dana is back early: her call returns to her hours
        back = session.get(Rep, dana)
        assert back is not None
        come_back(session, back)
    returned = views(world)["ann@example.com"]
    assert (returned.due_at, returned.worker and returned.worker.id) == (utc(2027, 3, 8, 10), dana)
