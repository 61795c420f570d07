"""Hypothesis strategies for weekly hours around DST changes, and an oracle written apart from the code.

The oracle (:func:`inside`) says whether a moment falls within weekly hours by reading the zone's clock the
way a person would, without the interval arithmetic it checks; :func:`quarter_hours` makes checking it at
finitely many moments exact for the hours and zones generated here.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from integration.reps.hours import WeeklyHours, parse_hours

UTC = dt.UTC
QUARTER = dt.timedelta(minutes=15)

# Zones with DST both ways, half-hour changes (Lord Howe), quarter-hour offsets (Kathmandu, Chatham), changes
# at midnight (Santiago, Havana: the day's 00:00 is skipped or repeated), and none (Kolkata, UTC).
ZONE_NAMES = (
    "America/New_York",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Europe/London",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/Santiago",
    "America/Havana",
    "Asia/Kolkata",
    "UTC",
)
ZONE_LIST = [ZoneInfo(name) for name in ZONE_NAMES]
ZONES = st.sampled_from(ZONE_LIST)
ANY_MOMENT = st.datetimes(
    min_value=dt.datetime(2027, 1, 1), max_value=dt.datetime(2027, 12, 31), timezones=st.just(UTC)
)


def _changes(zone: ZoneInfo) -> list[dt.datetime]:
    """Noon (UTC) before each of ``zone``'s 2027 clock changes, found by its offset at noon day by day."""
    noons = [dt.datetime(2027, 1, 1, 12, tzinfo=UTC) + dt.timedelta(days=d) for d in range(366)]
    offsets = [noon.astimezone(zone).utcoffset() for noon in noons]
    return [noons[d] for d in range(365) if offsets[d] != offsets[d + 1]]


CHANGES = {zone: _changes(zone) for zone in ZONE_LIST}


def near_changes(zone: ZoneInfo) -> st.SearchStrategy[dt.datetime]:
    """Moments within two days of one of ``zone``'s clock changes (mostly), or anywhere in 2027."""
    if not CHANGES[zone]:
        return ANY_MOMENT
    near = st.builds(
        lambda noon, shift: noon + shift,
        st.sampled_from(CHANGES[zone]),
        st.timedeltas(min_value=dt.timedelta(days=-2), max_value=dt.timedelta(days=2)),
    )
    return st.one_of(near, near, near, ANY_MOMENT)


ZONED_MOMENTS = ZONES.flatmap(lambda zone: st.tuples(st.just(zone), near_changes(zone)))

# Span edges on half hours (so every edge lands on a UTC quarter hour in these zones), often in the small
# hours when clocks change.
SPAN_EDGES = st.one_of(
    st.integers(min_value=0, max_value=48).map(lambda half: half * 30),
    st.sampled_from([0, 30, 60, 90, 120, 150, 180, 210, 1380, 1410, 1440]),
)
RANDOM_HOURS = st.lists(
    st.lists(st.lists(SPAN_EDGES, min_size=2, max_size=2, unique=True).map(lambda ab: (min(ab), max(ab))), max_size=2),
    min_size=7,
    max_size=7,
).map(lambda days: WeeklyHours.from_spans(dict(enumerate(days))))
TYPICAL = st.sampled_from(
    [
        parse_hours("Mon-Fri 10:00-19:00"),
        parse_hours("Mon-Fri 09:00-17:00"),
        parse_hours("Mon-Sun 00:00-02:30; Mon-Sun 22:00-24:00"),
        parse_hours("Sat-Sun 01:00-03:00"),
    ]
)
HOURS = st.one_of(TYPICAL, RANDOM_HOURS)


def clock(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """What the clock in ``zone`` has reached by ``moment`` (naive): its reading, except while a repeated
    stretch runs the second time, when it has already shown the stretch up to its end.

    A moment is inside hours [a, b) of a day exactly when the clock has reached a and not yet b, which is
    what the rule "a time is the first moment the clock shows it, or later" makes of DST.
    """
    local = moment.astimezone(zone)
    reading = local.replace(tzinfo=None, fold=0)
    if local.fold == 0:
        return reading
    stretch_end = reading.replace(second=0, microsecond=0)
    while stretch_end.replace(tzinfo=zone).utcoffset() != stretch_end.replace(tzinfo=zone, fold=1).utcoffset():
        stretch_end += dt.timedelta(minutes=1)
    return stretch_end - dt.timedelta(microseconds=1)


def inside(moment: dt.datetime, hours: WeeklyHours, zone: ZoneInfo) -> bool:
    reached = clock(moment, zone)
    since_midnight = reached - dt.datetime.combine(reached.date(), dt.time())
    return any(
        dt.timedelta(minutes=a) <= since_midnight < dt.timedelta(minutes=b) for a, b in hours.days[reached.weekday()]
    )


def quarter_hours(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """``start`` and every UTC quarter hour after it, before ``end``.

    Every edge of the hours generated here lands on a UTC quarter hour (half-hour spans; offsets and changes
    in quarter hours), so membership is constant between these moments: checking them checks everything.
    """
    if start >= end:
        return []
    first = start.replace(minute=start.minute // 15 * 15, second=0, microsecond=0) + QUARTER
    count = max(0, -((first - end) // QUARTER))  # quarter hours in [first, end), rounding up
    return [start, *(first + i * QUARTER for i in range(count))]
