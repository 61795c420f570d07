"""When a call can happen: inside the customer's calling window (their zone) and the rep's hours (theirs).

Both are weekly wall-clock hours in different zones, so they are turned into UTC intervals over the days
that matter and intersected; no minute-by-minute loops, and daylight-saving changes fall out of the
zone arithmetic (a 10:00 window opens at 10:00 local before and after the clocks change).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from integration.reps.hours import WeeklyHours

Interval = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class Slot:
    due_at: dt.datetime  # UTC
    outside_window: bool  # no common slot within the horizon: the rep's next working moment instead


def intersect(left: list[Interval], right: list[Interval]) -> list[Interval]:
    """The overlaps of two sorted lists of disjoint intervals."""
    found: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        lo = max(left[i][0], right[j][0])
        hi = min(left[i][1], right[j][1])
        if lo < hi:
            found.append((lo, hi))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return found


def _sorted(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def due_slot(
    earliest: dt.datetime,
    customer_zone: ZoneInfo,
    customer_window: WeeklyHours,
    rep_zone: ZoneInfo,
    rep_hours: WeeklyHours,
    horizon_days: int = 7,
) -> Slot:
    """The first moment at or after ``earliest`` inside both the customer's window and the rep's hours;
    failing one within ``horizon_days``, the rep's next working moment, flagged ``outside_window``."""
    if rep_hours.empty:
        raise ValueError("the rep has no working hours")
    earliest = earliest.astimezone(dt.UTC)
    horizon = earliest + dt.timedelta(days=horizon_days)
    common = intersect(
        _sorted(customer_window.intervals(earliest, horizon, customer_zone)),
        _sorted(rep_hours.intervals(earliest, horizon, rep_zone)),
    )
    if common:
        return Slot(common[0][0], outside_window=False)
    # Weekly hours repeat, so the rep works within any 8 days from any moment.
    rep_next = _sorted(rep_hours.intervals(earliest, earliest + dt.timedelta(days=8), rep_zone))
    return Slot(rep_next[0][0], outside_window=True)


def overlap_minutes(
    rep_hours: WeeklyHours,
    rep_zone: ZoneInfo,
    customer_zone: ZoneInfo,
    customer_daytime: WeeklyHours,
    week_start: dt.datetime,
) -> int:
    """Minutes in the week from ``week_start`` when the rep works while the customer is awake."""
    week_end = week_start + dt.timedelta(days=7)
    common = intersect(
        _sorted(rep_hours.intervals(week_start, week_end, rep_zone)),
        _sorted(customer_daytime.intervals(week_start, week_end, customer_zone)),
    )
    return int(sum((hi - lo).total_seconds() for lo, hi in common) // 60)
