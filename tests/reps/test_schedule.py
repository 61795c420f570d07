"""When a call is due: inside the customer's window and the rep's hours, each in its own zone, across DST."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration.reps.hours import parse_hours
from integration.reps.schedule import due_slot, overlap_minutes

UTC = dt.UTC
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
BERLIN = ZoneInfo("Europe/Berlin")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
LONDON = ZoneInfo("Europe/London")
WINDOW = parse_hours("Mon-Fri 10:00-19:00")
OFFICE = parse_hours("Mon-Fri 09:00-17:00")


def at(text: str, zone: ZoneInfo = UTC) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(UTC)


def test_earliest_inside_both_windows_is_the_due_time() -> None:
    slot = due_slot(at("2027-01-05 11:00", LONDON), LONDON, WINDOW, LONDON, OFFICE)
    assert (slot.due_at, slot.outside_window) == (at("2027-01-05 11:00", LONDON), False)


def test_late_friday_moves_to_monday_morning() -> None:
    slot = due_slot(at("2027-01-08 18:30", LONDON), LONDON, WINDOW, LONDON, OFFICE)
    assert slot.due_at == at("2027-01-11 10:00", LONDON)


def test_new_york_spring_forward_week_keeps_ten_o_clock() -> None:
    # Due over the weekend the clocks change (2027-03-14): Monday 10:00 EDT, which is 14:00 UTC, not 15:00.
    rep = parse_hours("Mon-Fri 08:00-18:00")
    slot = due_slot(at("2027-03-13 12:00", NEW_YORK), NEW_YORK, WINDOW, NEW_YORK, rep)
    assert slot.due_at == at("2027-03-15 14:00")
    # And the Friday before, still EST: 10:00 is 15:00 UTC.
    assert due_slot(at("2027-03-12 06:00", NEW_YORK), NEW_YORK, WINDOW, NEW_YORK, rep).due_at == at("2027-03-12 15:00")


def test_sydney_when_its_clocks_go_back() -> None:
    # Sydney leaves DST on Sunday 2027-04-04: Monday 10:00 AEST is 00:00 UTC (the Friday before, AEDT, 23:00).
    slot = due_slot(at("2027-04-03 09:00", SYDNEY), SYDNEY, WINDOW, SYDNEY, OFFICE)
    assert slot.due_at == at("2027-04-05 00:00")
    assert due_slot(at("2027-04-02 08:00", SYDNEY), SYDNEY, WINDOW, SYDNEY, OFFICE).due_at == at("2027-04-01 23:00")


def test_a_rep_in_berlin_and_a_customer_in_california_meet_in_the_short_overlap() -> None:
    # Berlin 09:00-17:00 is 00:00-08:00 in California; the customer's window opens at 10:00 there: no
    # overlap on a weekday, so the call goes to the rep's next working hour, flagged.
    slot = due_slot(at("2027-01-05 12:00", LOS_ANGELES), LOS_ANGELES, WINDOW, BERLIN, OFFICE)
    assert slot.outside_window is True
    assert slot.due_at == at("2027-01-06 09:00", BERLIN)
    # A Berlin rep who also works evenings (18:00-21:00 = 09:00-12:00 in LA) meets the window at 10:00 LA.
    late = parse_hours("Mon-Fri 09:00-13:00; Mon-Fri 18:00-21:00")
    slot = due_slot(at("2027-01-05 06:00", LOS_ANGELES), LOS_ANGELES, WINDOW, BERLIN, late)
    assert (slot.due_at, slot.outside_window) == (at("2027-01-05 10:00", LOS_ANGELES), False)


def test_a_rep_without_hours_cannot_be_scheduled() -> None:
    with pytest.raises(ValueError, match="no working hours"):
        due_slot(
            at("2027-01-05 12:00"), LONDON, WINDOW, LONDON, parse_hours("Mon 09:00-10:00").__class__.from_spans({})
        )


def test_overlap_ranks_a_local_rep_above_a_distant_one() -> None:
    daytime = parse_hours("Mon-Sun 09:00-21:00")
    week = at("2027-01-04 00:00")
    local = overlap_minutes(OFFICE, LOS_ANGELES, LOS_ANGELES, daytime, week)
    distant = overlap_minutes(OFFICE, BERLIN, LOS_ANGELES, daytime, week)
    assert local == 5 * 8 * 60
    assert 0 <= distant < local


ZONES = st.sampled_from([NEW_YORK, SYDNEY, BERLIN, LOS_ANGELES, LONDON, ZoneInfo("Asia/Kolkata")])
# Around the 2027 DST changes of these zones, and ordinary weeks.
MOMENTS = st.datetimes(min_value=dt.datetime(2027, 3, 1), max_value=dt.datetime(2027, 11, 15), timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(earliest=MOMENTS, customer_zone=ZONES, rep_zone=ZONES)
def test_the_due_time_is_never_early_and_inside_both_windows(
    earliest: dt.datetime, customer_zone: ZoneInfo, rep_zone: ZoneInfo
) -> None:
    slot = due_slot(earliest, customer_zone, WINDOW, rep_zone, OFFICE)
    assert slot.due_at >= earliest
    inside_rep = any(
        a <= slot.due_at < b
        for a, b in OFFICE.intervals(slot.due_at - dt.timedelta(days=1), slot.due_at + dt.timedelta(days=1), rep_zone)
    )
    assert inside_rep
    if not slot.outside_window:
        local = slot.due_at.astimezone(customer_zone)
        assert local.weekday() < 5 and dt.time(10) <= local.time() < dt.time(19)
        rep_local = slot.due_at.astimezone(rep_zone)
        assert rep_local.weekday() < 5 and dt.time(9) <= rep_local.time() < dt.time(17)
