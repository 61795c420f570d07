"""Weekly hours: what merchants type, stored as JSON, and turned into UTC intervals across DST."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from integration.reps.hours import WeeklyHours, parse_hours

NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.UTC


def at(text: str, zone: ZoneInfo = UTC) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Mon-Fri 09:00-17:00", "Mon-Fri 09:00-17:00"),
        ("mon-fri 9:00-17:00", "Mon-Fri 09:00-17:00"),
        ("Mon-Fri 09:00-12:30; Mon-Fri 13:30-17:00", "Mon-Fri 09:00-12:30; Mon-Fri 13:30-17:00"),
        ("Sat 10:00-14:00; Mon-Fri 09:00-17:00", "Mon-Fri 09:00-17:00; Sat 10:00-14:00"),
        ("Fri-Mon 10:00-16:00", "Mon 10:00-16:00; Fri-Sun 10:00-16:00"),
        ("Mon 22:00-24:00; Tue 00:00-06:00", "Mon 22:00-24:00; Tue 00:00-06:00"),
        ("Mon 09:00-12:00; Mon 11:00-13:00", "Mon 09:00-13:00"),  # overlapping parts merge
    ],
)
def test_parsing_and_showing(text: str, shown: str) -> None:
    hours = parse_hours(text)
    assert str(hours) == shown
    assert WeeklyHours.from_json(hours.to_json()) == hours
    assert parse_hours(str(hours)) == hours


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no hours given"),
        ("weekdays 9-5", "is not like 'Mon-Fri 09:00-17:00'"),
        ("Mon-Fry 09:00-17:00", "days are Mon"),
        ("Mon 17:00-09:00", "ends before it starts"),
        ("Mon 09:00-25:00", "is not a time of day"),
        ("Mon 24:00-24:00", "is not a time of day"),
        ("Mon 09:61-10:00", "is not a time of day"),
        ("Mon 09:00-17:00, Tue 09:00-17:00", "parts are separated by ';'"),
    ],
)
def test_bad_hours_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("'", "'")):
        parse_hours(text)


def test_a_long_bad_part_is_not_echoed_whole() -> None:
    with pytest.raises(ValueError) as caught:
        parse_hours("x" * 500)
    assert len(str(caught.value)) < 150


def test_intervals_are_local_wall_clock_hours_across_spring_forward() -> None:
    hours = parse_hours("Mon-Sun 09:00-17:00")
    # New York springs forward on Sunday 2027-03-14: 09:00 is 14:00 UTC before, 13:00 UTC after.
    found = hours.intervals(at("2027-03-13 00:00"), at("2027-03-16 00:00"), NEW_YORK)
    assert found == [
        (at("2027-03-13 14:00"), at("2027-03-13 22:00")),
        (at("2027-03-14 13:00"), at("2027-03-14 21:00")),
        (at("2027-03-15 13:00"), at("2027-03-15 21:00")),
    ]


def test_intervals_are_clipped_to_the_range_and_a_skipped_hour_resolves_forward() -> None:
    night = parse_hours("Sun 02:00-04:00")  # 02:00-03:00 does not exist on 2027-03-14 in New York
    ((start, end),) = night.intervals(at("2027-03-14 00:00", NEW_YORK), at("2027-03-15 00:00", NEW_YORK), NEW_YORK)
    assert (start, end) == (at("2027-03-14 07:00"), at("2027-03-14 08:00"))  # 03:00 EDT to 04:00 EDT
    clipped = parse_hours("Mon 09:00-17:00").intervals(at("2027-01-04 12:00"), at("2027-01-04 13:00"), UTC)
    assert clipped == [(at("2027-01-04 12:00"), at("2027-01-04 13:00"))]
