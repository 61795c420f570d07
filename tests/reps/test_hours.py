"""Weekly hours: what merchants type, stored as JSON, and turned into UTC intervals across DST."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration.reps.hours import WeeklyHours, parse_hours
from tests.reps.clocks import HOURS, ZONED_MOMENTS, inside, quarter_hours

NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # moves its clocks by half an hour
UTC = dt.UTC


def at(text: str, zone: ZoneInfo = UTC) -> dt.datetime:
    """A wall-clock time in ``zone`` as a UTC moment (only for times that exist once)."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(UTC)


def hours_of(intervals: list[tuple[dt.datetime, dt.datetime]]) -> list[float]:
    return [(hi - lo).total_seconds() / 3600 for lo, hi in intervals]


# -- the text syntax ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Mon-Fri 09:00-17:00", "Mon-Fri 09:00-17:00"),
        ("mon-fri 9:00-17:00", "Mon-Fri 09:00-17:00"),
        ("MONDAY - friday 09:00 - 17:00", "Mon-Fri 09:00-17:00"),
        ("Mon-Fri 09:00\u201317:00", "Mon-Fri 09:00-17:00"),  # an en dash pasted from a document
        ("Mon-Fri 09:00-17:00, Sat 10:00-14:00", "Mon-Fri 09:00-17:00; Sat 10:00-14:00"),
        ("Mon-Fri 09:00-17:00; Sat 10:00-14:00;", "Mon-Fri 09:00-17:00; Sat 10:00-14:00"),
        ("Sat 10:00-14:00; Mon-Fri 09:00-17:00", "Mon-Fri 09:00-17:00; Sat 10:00-14:00"),
        ("Tues, Thurs 10:00-12:00", "Tue, Thu 10:00-12:00"),
        ("Mon, Wed, Fri 09:00-17:00; Tu, Th 12:00-20:00", "Mon, Wed, Fri 09:00-17:00; Tue, Thu 12:00-20:00"),
        ("Mon-Fri 09:00-12:30; Mon-Fri 13:30-17:00", "Mon-Fri 09:00-12:30; Mon-Fri 13:30-17:00"),
        ("Fri-Mon 10:00-16:00", "Fri-Mon 10:00-16:00"),  # wraps over the weekend
        ("Sun-Mon 08:00-09:00", "Sun-Mon 08:00-09:00"),
        ("Mon 22:00-24:00; Tue 00:00-06:00", "Mon 22:00-24:00; Tue 00:00-06:00"),
        ("Mon 09:00-12:00; Mon 11:00-13:00", "Mon 09:00-13:00"),  # overlapping parts merge
        ("Mon 09:00-12:00; Mon 12:00-13:00", "Mon 09:00-13:00"),  # and so do touching ones
        ("Mon-Sun 00:00-24:00", "Mon-Sun 00:00-24:00"),
        ("Mon-Fri 10:00-19:00; Sat 10:00-19:00", "Mon-Sat 10:00-19:00"),
    ],
)
def test_parsing_and_showing(text: str, shown: str) -> None:
    hours = parse_hours(text)
    assert str(hours) == shown
    assert parse_hours(str(hours)) == hours
    assert WeeklyHours.from_json(hours.to_json()) == hours


def test_the_parts_mean_what_they_say() -> None:
    hours = parse_hours("Mon, Wed 09:00-12:00; Fri-Sun 10:00-11:00")
    assert hours.days == (
        ((540, 720),),
        (),
        ((540, 720),),
        (),
        ((600, 660),),
        ((600, 660),),
        ((600, 660),),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no hours given (e.g. Mon-Fri 09:00-17:00)"),
        ("   ", "no hours given"),
        ("weekdays 9-5", "'weekdays 9-5' is not like 'Mon-Fri 09:00-17:00'"),
        ("Mon-Fri 9-17", "'Mon-Fri 9-17' is not like 'Mon-Fri 09:00-17:00'"),
        ("Mon-Fry 09:00-17:00", "'Fry' is not a day (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)"),
        ("M 09:00-17:00", "'M' is not a day"),
        ("Mon 17:00-09:00", "17:00-09:00 does not end after it starts; hours cannot run past midnight"),
        ("Mon 09:00-09:00", "09:00-09:00 does not end after it starts"),
        ("Mon 09:00-25:00", "'25:00' is not a time of day (use 00:00 to 23:59, or 24:00 as an end)"),
        ("Mon 24:00-24:00", "'24:00' is not a time of day"),
        ("Mon 09:61-10:00", "'09:61' is not a time of day"),
        ("09:00-17:00", "'09:00-17:00' needs days in front (e.g. 'Mon-Fri 09:00-17:00')"),
        ("Mon-Fri 09:00-17:00, Sat", "'Sat' has no times (e.g. 'Sat 10:00-14:00')"),
        ("Mon-Fri 09:00-17:00 Sat 10:00-14:00", "is not like 'Mon-Fri 09:00-17:00'"),
    ],
)
def test_bad_hours_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_hours(text)
    assert message in str(caught.value)


def test_a_message_shows_only_the_bad_part_and_only_so_much_of_it() -> None:
    with pytest.raises(ValueError) as caught:
        parse_hours("Mon-Fri 09:00-17:00; " + "lunch is at one every day " * 5)
    message = str(caught.value)
    assert "Mon-Fri 09:00-17:00;" not in message  # the good part is not repeated back
    assert message.startswith("'lunch is at one every day lunch is at...' is not like")
    assert len(message) < 100
    with pytest.raises(ValueError, match="at most 1000 characters"):
        parse_hours("x" * 1001)


# -- stored as JSON -------------------------------------------------------------------------------------


def test_json_is_per_day_lists_of_start_and_end() -> None:
    hours = parse_hours("Mon-Tue 09:00-12:30; Mon-Tue 13:30-17:00; Sat 22:00-24:00")
    assert json.loads(hours.to_json()) == {
        "mon": [["09:00", "12:30"], ["13:30", "17:00"]],
        "tue": [["09:00", "12:30"], ["13:30", "17:00"]],
        "sat": [["22:00", "24:00"]],
    }
    assert WeeklyHours.from_json('{"mon": [["09:00", "17:00"]]}') == parse_hours("Mon 09:00-17:00")
    empty = WeeklyHours.from_json("{}")
    assert empty.empty and str(empty) == "" and empty.to_json() == "{}"


@pytest.mark.parametrize(
    "stored",
    [
        "not json",
        "[]",
        '{"monday": [["09:00", "17:00"]]}',
        '{"mon": [["17:00", "09:00"]]}',
        '{"mon": [[9, 17]]}',
        '{"mon": [["09:00"]]}',
        '{"mon": "09:00-17:00"}',
        '{"mon": [["09:00", "25:00"]]}',
    ],
)
def test_bad_stored_hours_are_a_value_error(stored: str) -> None:
    with pytest.raises(ValueError, match="stored hours are not valid"):
        WeeklyHours.from_json(stored)


SPAN_ENDS = st.integers(min_value=0, max_value=96).map(lambda quarter: quarter * 15)
SPANS = st.lists(SPAN_ENDS, min_size=2, max_size=2, unique=True).map(lambda ends: (min(ends), max(ends)))
DAY_SPANS = st.lists(SPANS, max_size=3)
WEEKS = st.lists(DAY_SPANS, min_size=7, max_size=7).map(lambda days: WeeklyHours.from_spans(dict(enumerate(days))))


@given(WEEKS)
def test_any_hours_round_trip_through_text_and_json(hours: WeeklyHours) -> None:
    assert WeeklyHours.from_json(hours.to_json()) == hours
    if not hours.empty:
        assert parse_hours(str(hours)) == hours


# -- wall-clock hours as real intervals -----------------------------------------------------------------


def test_spring_forward_keeps_nine_to_five_on_the_clock() -> None:
    # New York springs forward on Sunday 2027-03-14: 09:00 is 14:00 UTC before, 13:00 UTC after; 8 hours each.
    found = parse_hours("Mon-Sun 09:00-17:00").intervals(at("2027-03-13 00:00"), at("2027-03-16 00:00"), NEW_YORK)
    assert found == [
        (at("2027-03-13 14:00"), at("2027-03-13 22:00")),
        (at("2027-03-14 13:00"), at("2027-03-14 21:00")),
        (at("2027-03-15 13:00"), at("2027-03-15 21:00")),
    ]


def test_fall_back_keeps_nine_to_five_on_the_clock() -> None:
    # New York falls back on Sunday 2027-11-07: 09:00 is 13:00 UTC before, 14:00 UTC after.
    found = parse_hours("Sat-Sun 09:00-17:00").intervals(at("2027-11-06 00:00"), at("2027-11-08 00:00"), NEW_YORK)
    assert found == [
        (at("2027-11-06 13:00"), at("2027-11-06 21:00")),
        (at("2027-11-07 14:00"), at("2027-11-07 22:00")),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 02:00-03:00 does not happen on 2027-03-14 in New York (the clocks jump at 07:00 UTC).
        ("Sun 01:00-04:00", [("2027-03-14 06:00", "2027-03-14 08:00")]),  # two real hours
        ("Sun 02:30-03:15", [("2027-03-14 07:00", "2027-03-14 07:15")]),  # from the jump: 03:00-03:15 EDT
        ("Sun 02:00-02:45", []),  # wholly skipped: no hours that night
    ],
)
def test_a_skipped_time_is_the_moment_of_the_jump(text: str, expected: list[tuple[str, str]]) -> None:
    found = parse_hours(text).intervals(at("2027-03-14 00:00", NEW_YORK), at("2027-03-15 00:00", NEW_YORK), NEW_YORK)
    assert found == [(at(a), at(b)) for a, b in expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 01:00-02:00 happens twice on 2027-11-07 in New York: 05:00-06:00 UTC (EDT), then 06:00-07:00 (EST).
        ("Sun 01:00-02:00", [("2027-11-07 05:00", "2027-11-07 07:00")]),  # first 01:00 to 02:00: two hours
        ("Sun 00:00-01:30", [("2027-11-07 04:00", "2027-11-07 05:30")]),  # ends the first time it is 01:30
        ("Sun 01:30-03:00", [("2027-11-07 05:30", "2027-11-07 08:00")]),
        ("Sat-Sun 00:00-24:00", [("2027-11-06 04:00", "2027-11-08 05:00")]),  # 49 hours, one interval
    ],
)
def test_a_repeated_time_is_its_first_occurrence(text: str, expected: list[tuple[str, str]]) -> None:
    found = parse_hours(text).intervals(at("2027-11-06 00:00"), at("2027-11-09 00:00"), NEW_YORK)
    assert found == [(at(a), at(b)) for a, b in expected]


def test_sydney_when_its_clocks_go_back_and_forward() -> None:
    office = parse_hours("Mon-Sun 09:00-17:00")
    # DST ends on the first Sunday of April (2027-04-04, 03:00 AEDT -> 02:00 AEST): +11 before, +10 after.
    ends = office.intervals(at("2027-04-03 00:00", SYDNEY), at("2027-04-05 00:00", SYDNEY), SYDNEY)
    assert ends == [
        (at("2027-04-02 22:00"), at("2027-04-03 06:00")),
        (at("2027-04-03 23:00"), at("2027-04-04 07:00")),
    ]
    repeated = parse_hours("Sun 02:00-03:00").intervals(at("2027-04-03 00:00"), at("2027-04-05 00:00"), SYDNEY)
    assert hours_of(repeated) == [2.0]
    # DST starts on the first Sunday of October (2027-10-03, 02:00 AEST -> 03:00 AEDT): +10 before, +11 after.
    starts = office.intervals(at("2027-10-02 00:00", SYDNEY), at("2027-10-04 00:00", SYDNEY), SYDNEY)
    assert starts == [
        (at("2027-10-01 23:00"), at("2027-10-02 07:00")),
        (at("2027-10-02 22:00"), at("2027-10-03 06:00")),
    ]
    skipped = parse_hours("Sun 02:00-04:00").intervals(at("2027-10-02 00:00"), at("2027-10-04 00:00"), SYDNEY)
    assert skipped == [(at("2027-10-02 16:00"), at("2027-10-02 17:00"))]


def test_a_half_hour_change_skips_half_an_hour() -> None:
    # Lord Howe Island goes from +10:30 to +11 at 02:00 on 2027-10-03: 02:00-02:30 does not happen.
    found = parse_hours("Sun 02:00-03:00").intervals(at("2027-10-02 00:00"), at("2027-10-04 00:00"), LORD_HOWE)
    assert found == [(at("2027-10-02 15:30"), at("2027-10-02 16:00"))]


def test_intervals_are_clipped_merged_over_midnight_and_need_aware_bounds() -> None:
    clipped = parse_hours("Mon 09:00-17:00").intervals(at("2027-01-04 12:00"), at("2027-01-04 13:00"), UTC)
    assert clipped == [(at("2027-01-04 12:00"), at("2027-01-04 13:00"))]
    night = parse_hours("Mon 22:00-24:00; Tue 00:00-06:00").intervals(at("2027-01-04"), at("2027-01-06"), NEW_YORK)
    assert night == [(at("2027-01-05 03:00"), at("2027-01-05 11:00"))]
    # Bounds in any zone; the intervals come back in UTC.
    berlin = parse_hours("Mon 09:00-10:00").intervals(
        at("2027-01-04 00:00").astimezone(NEW_YORK), at("2027-01-05 00:00").astimezone(NEW_YORK), UTC
    )
    assert berlin == [(at("2027-01-04 09:00"), at("2027-01-04 10:00"))]
    assert berlin[0][0].tzinfo is UTC
    with pytest.raises(ValueError, match="aware"):
        parse_hours("Mon 09:00-10:00").intervals(dt.datetime(2027, 1, 4), at("2027-01-05 00:00"), UTC)


@settings(max_examples=200, deadline=None)
@given(zoned=ZONED_MOMENTS, hours=HOURS)
def test_intervals_are_exactly_the_moments_the_clock_is_within_the_hours(
    zoned: tuple[ZoneInfo, dt.datetime], hours: WeeklyHours
) -> None:
    # Mostly two days from within two days of one of the zone's clock changes.
    zone, start = zoned
    end = start + dt.timedelta(days=2)
    found = hours.intervals(start, end, zone)
    assert all(start <= lo < hi <= end and lo.tzinfo is UTC for lo, hi in found)
    assert all(earlier[1] < later[0] for earlier, later in itertools.pairwise(found))  # sorted, apart
    for moment in quarter_hours(start, end):
        assert inside(moment, hours, zone) == any(lo <= moment < hi for lo, hi in found), moment
