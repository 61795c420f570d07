"""When a call is due: inside the customer's window and the rep's hours, each in its own zone, across DST."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from integration.reps.hours import WeeklyHours, parse_hours
from integration.reps.schedule import Slot, due_slot, overlap_minutes
from tests.reps.clocks import HOURS, ZONES, inside, near_changes, quarter_hours

UTC = dt.UTC
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
BERLIN = ZoneInfo("Europe/Berlin")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
LONDON = ZoneInfo("Europe/London")
WINDOW = parse_hours("Mon-Fri 10:00-19:00")  # the shop's default calling window
OFFICE = parse_hours("Mon-Fri 09:00-17:00")
NO_HOURS = WeeklyHours.from_spans({})


def at(text: str, zone: ZoneInfo = UTC) -> dt.datetime:
    """A wall-clock time in ``zone`` as a UTC moment (only for times that exist once)."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(UTC)


def test_earliest_inside_both_windows_is_the_due_time() -> None:
    earliest = at("2027-01-05 11:00:30.25", LONDON)
    assert due_slot(earliest, LONDON, WINDOW, LONDON, OFFICE) == Slot(earliest, outside_window=False)


def test_before_the_window_opens_waits_for_it() -> None:
    slot = due_slot(at("2027-01-05 07:00", LONDON), LONDON, WINDOW, LONDON, OFFICE)
    assert slot == Slot(at("2027-01-05 10:00", LONDON), outside_window=False)  # the window, not the rep's 09:00


def test_late_friday_moves_to_monday_morning() -> None:
    slot = due_slot(at("2027-01-08 18:30", LONDON), LONDON, WINDOW, LONDON, OFFICE)
    assert slot == Slot(at("2027-01-11 10:00", LONDON), outside_window=False)
    # The same with the rep an ocean away: Friday 16:30 in New York is after the London window closed.
    slot = due_slot(at("2027-01-08 16:30", NEW_YORK), LONDON, WINDOW, NEW_YORK, OFFICE)
    assert slot == Slot(at("2027-01-11 09:00", NEW_YORK), outside_window=False)  # 14:00 in London


def test_new_york_spring_forward_week_keeps_ten_o_clock() -> None:
    # Due over the weekend the clocks change (2027-03-14): Monday 10:00 EDT, which is 14:00 UTC, not 15:00.
    rep = parse_hours("Mon-Fri 08:00-18:00")
    assert due_slot(at("2027-03-13 12:00", NEW_YORK), NEW_YORK, WINDOW, NEW_YORK, rep).due_at == at("2027-03-15 14:00")
    # The Friday before, still EST: 10:00 is 15:00 UTC.
    assert due_slot(at("2027-03-12 06:00", NEW_YORK), NEW_YORK, WINDOW, NEW_YORK, rep).due_at == at("2027-03-12 15:00")


def test_new_york_fall_back_keeps_ten_o_clock() -> None:
    # New York falls back on Sunday 2027-11-07: Monday 10:00 EST is 15:00 UTC (the Friday before, EDT, 14:00).
    rep = parse_hours("Mon-Fri 08:00-18:00")
    assert due_slot(at("2027-11-06 12:00", NEW_YORK), NEW_YORK, WINDOW, NEW_YORK, rep).due_at == at("2027-11-08 15:00")
    assert due_slot(at("2027-11-05 06:00", NEW_YORK), NEW_YORK, WINDOW, NEW_YORK, rep).due_at == at("2027-11-05 14:00")


def test_sydney_when_its_clocks_go_back_and_forward() -> None:
    # DST ends on the first Sunday of April (2027-04-04): Monday 10:00 AEST is 00:00 UTC (Friday's, AEDT, 23:00).
    assert due_slot(at("2027-04-03 09:00", SYDNEY), SYDNEY, WINDOW, SYDNEY, OFFICE).due_at == at("2027-04-05 00:00")
    assert due_slot(at("2027-04-02 08:00", SYDNEY), SYDNEY, WINDOW, SYDNEY, OFFICE).due_at == at("2027-04-01 23:00")
    # DST starts on the first Sunday of October (2027-10-03): Monday 10:00 AEDT is 23:00 UTC on Sunday.
    assert due_slot(at("2027-10-02 09:00", SYDNEY), SYDNEY, WINDOW, SYDNEY, OFFICE).due_at == at("2027-10-03 23:00")


def test_a_rep_in_berlin_and_a_customer_in_california_meet_in_the_short_overlap() -> None:
    # Berlin 09:00-20:00 ends at 11:00 in California in winter: one hour of the customer's 10:00-19:00 window.
    long_day = parse_hours("Mon-Fri 09:00-20:00")
    slot = due_slot(at("2027-01-05 12:00", LOS_ANGELES), LOS_ANGELES, WINDOW, BERLIN, long_day)
    assert slot == Slot(at("2027-01-06 10:00", LOS_ANGELES), outside_window=False)  # Wednesday 19:00 in Berlin
    # From 2027-03-14 to 03-28 the US has changed its clocks and Europe has not: two hours, until 12:00 there.
    slot = due_slot(at("2027-03-16 11:30", LOS_ANGELES), LOS_ANGELES, WINDOW, BERLIN, long_day)
    assert slot == Slot(at("2027-03-16 11:30", LOS_ANGELES), outside_window=False)
    week = {"winter": at("2027-01-04"), "between the changes": at("2027-03-15"), "summer": at("2027-04-05")}
    overlap = {name: overlap_minutes(long_day, BERLIN, LOS_ANGELES, WINDOW, start) for name, start in week.items()}
    assert overlap == {"winter": 5 * 60, "between the changes": 5 * 120, "summer": 5 * 60}


def test_hours_that_never_meet_go_to_the_reps_next_working_hour_flagged() -> None:
    # Berlin 09:00-17:00 is 00:00-08:00 in California: never inside a 10:00-19:00 window there.
    slot = due_slot(at("2027-01-05 12:00", LOS_ANGELES), LOS_ANGELES, WINDOW, BERLIN, OFFICE)
    assert slot == Slot(at("2027-01-06 09:00", BERLIN), outside_window=True)
    # Already inside the rep's hours: due at once, still flagged.
    slot = due_slot(at("2027-01-06 10:15", BERLIN), LOS_ANGELES, WINDOW, BERLIN, OFFICE)
    assert slot == Slot(at("2027-01-06 10:15", BERLIN), outside_window=True)
    # Friday evening in Berlin: Monday morning there.
    slot = due_slot(at("2027-01-08 18:00", BERLIN), LOS_ANGELES, WINDOW, BERLIN, OFFICE)
    assert slot == Slot(at("2027-01-11 09:00", BERLIN), outside_window=True)
    assert overlap_minutes(OFFICE, BERLIN, LOS_ANGELES, WINDOW, at("2027-01-04")) == 0


def test_the_horizon_bounds_the_search_for_a_common_slot() -> None:
    saturday_window = parse_hours("Sat 10:00-12:00")
    every_day = parse_hours("Mon-Sun 09:00-17:00")
    earliest = at("2027-01-04 12:00", LONDON)  # a Monday
    assert due_slot(earliest, LONDON, saturday_window, LONDON, every_day) == Slot(at("2027-01-09 10:00", LONDON), False)
    assert due_slot(earliest, LONDON, saturday_window, LONDON, every_day, horizon_days=3) == Slot(earliest, True)
    assert due_slot(earliest, LONDON, saturday_window, LONDON, every_day, horizon_days=0) == Slot(earliest, True)
    # An empty window never meets anything.
    assert due_slot(earliest, LONDON, NO_HOURS, LONDON, every_day) == Slot(earliest, True)


def test_a_rep_whose_only_hour_is_skipped_by_the_clocks_is_due_the_week_after() -> None:
    # 02:00-02:30 on Sunday 2027-03-14 does not happen in New York.
    night = parse_hours("Sun 02:00-02:30")
    slot = due_slot(at("2027-03-08 12:00", NEW_YORK), NEW_YORK, WINDOW, NEW_YORK, night)
    assert slot == Slot(at("2027-03-21 02:00", NEW_YORK), outside_window=True)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="no working hours"):
        due_slot(at("2027-01-05 12:00"), LONDON, WINDOW, LONDON, NO_HOURS)
    with pytest.raises(ValueError, match="aware"):
        due_slot(dt.datetime(2027, 1, 5, 12), LONDON, WINDOW, LONDON, OFFICE)
    with pytest.raises(ValueError, match="negative"):
        due_slot(at("2027-01-05 12:00"), LONDON, WINDOW, LONDON, OFFICE, horizon_days=-1)
    with pytest.raises(ValueError, match="aware"):
        overlap_minutes(OFFICE, LONDON, LONDON, WINDOW, dt.datetime(2027, 1, 4))


def test_overlap_ranks_a_local_rep_above_a_distant_one() -> None:
    daytime = parse_hours("Mon-Sun 09:00-21:00")
    week = at("2027-01-04 00:00")
    local = overlap_minutes(OFFICE, LOS_ANGELES, LOS_ANGELES, daytime, week)
    distant = overlap_minutes(OFFICE, BERLIN, LOS_ANGELES, daytime, week)
    assert local == 5 * 8 * 60
    assert 0 <= distant < local


def test_due_slot_is_cheap_enough_for_every_delivery_event() -> None:
    # A loose bound (shared CI machines are slow): the point is no per-minute loop, which would be ~100x this.
    import time

    earliest = at("2027-01-05 12:00", LOS_ANGELES)
    started = time.perf_counter()
    for minute in range(500):
        due_slot(earliest + dt.timedelta(minutes=minute), LOS_ANGELES, WINDOW, BERLIN, OFFICE)
    assert (time.perf_counter() - started) / 500 < 0.005


# -- the property: never early, inside both windows, and the first such moment ----------------------------


@st.composite
def two_zones_and_a_moment(draw: st.DrawFn) -> tuple[ZoneInfo, ZoneInfo, dt.datetime]:
    """The customer's zone, the rep's, and a moment mostly near a clock change in one of them."""
    customer_zone, rep_zone = draw(ZONES), draw(ZONES)
    return customer_zone, rep_zone, draw(near_changes(draw(st.sampled_from([customer_zone, rep_zone]))))


@settings(max_examples=150, deadline=None)
@given(zones=two_zones_and_a_moment(), window=HOURS, rep_hours=HOURS)
def test_the_due_time_is_never_early_inside_both_windows_and_the_first_such(
    zones: tuple[ZoneInfo, ZoneInfo, dt.datetime], window: WeeklyHours, rep_hours: WeeklyHours
) -> None:
    customer_zone, rep_zone, earliest = zones
    assume(not rep_hours.empty)
    slot = due_slot(earliest, customer_zone, window, rep_zone, rep_hours)
    assert slot.due_at >= earliest
    assert slot.due_at.tzinfo is UTC
    assert inside(slot.due_at, rep_hours, rep_zone)
    if not slot.outside_window:
        assert inside(slot.due_at, window, customer_zone)
        # Nothing earlier was inside both.
        before = quarter_hours(earliest, slot.due_at)
    else:
        # Nothing within the horizon was inside both, and the rep worked no earlier moment.
        before = quarter_hours(earliest, earliest + dt.timedelta(days=7))
        assert not any(inside(m, rep_hours, rep_zone) for m in quarter_hours(earliest, slot.due_at))
    assert not any(inside(m, rep_hours, rep_zone) and inside(m, window, customer_zone) for m in before)
