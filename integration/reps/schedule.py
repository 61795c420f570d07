"""When a call can happen: inside the customer's calling window (their zone) and the rep's hours (theirs).

Both are weekly wall-clock hours in different zones, so each becomes sorted UTC intervals over the days
that matter (:meth:`WeeklyHours.utc_micros`, which owns the DST rules) and the two lists are intersected in
one merge-like pass, on integer microseconds. That is a few dozen cached look-ups and comparisons per call,
not a loop over minutes, because it runs on every delivery event. A 10:00 window opens at 10:00 local
before and after the clocks change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from integration.reps.hours import WeeklyHours, micros, moment

_MINUTE = 60_000_000
_DAY = 1440 * _MINUTE
_STEP_DAYS = 2

Interval = tuple[int, int]  # microseconds since the epoch, end exclusive


@dataclass(frozen=True)
class Slot:
    due_at: dt.datetime  # UTC
    outside_window: bool  # no common slot within the horizon: the rep's next working moment instead


def intersect(left: list[Interval], right: list[Interval]) -> list[Interval]:
    """The overlaps of two sorted lists of disjoint intervals, in one pass over both."""
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


def due_slot(
    earliest: dt.datetime,
    customer_zone: ZoneInfo,
    customer_window: WeeklyHours,
    rep_zone: ZoneInfo,
    rep_hours: WeeklyHours,
    horizon_days: int = 7,
) -> Slot:
    """The first moment at or after ``earliest`` inside both the customer's window and the rep's hours.

    Failing one within ``horizon_days`` (hours that never meet, such as a Berlin rep's day and a
    Californian's calling window), the rep's next working moment, flagged ``outside_window`` so the rep
    sees the call falls outside the customer's window rather than the task waiting for ever.
    """
    if rep_hours.empty:
        raise ValueError("the rep has no working hours")
    if horizon_days < 0:
        raise ValueError("horizon_days cannot be negative")
    start = micros(earliest)  # refuses a naive datetime
    # Two days at a time: the common case is a slot today or tomorrow, and each day costs look-ups.
    rep_next: int | None = None
    for day_from in range(0, horizon_days, _STEP_DAYS):
        lo = start + day_from * _DAY
        hi = start + min(day_from + _STEP_DAYS, horizon_days) * _DAY
        rep = rep_hours.utc_micros(lo, hi, rep_zone)
        if not rep:
            continue
        if rep_next is None:
            rep_next = rep[0][0]
        common = intersect(customer_window.utc_micros(lo, hi, customer_zone), rep)
        if common:
            return Slot(moment(common[0][0]), outside_window=False)
    if rep_next is None:
        # Weekly hours recur within 8 days; a few weeks more covers hours that fall in a skipped DST hour.
        later = rep_hours.utc_micros(start, start + 36 * _DAY, rep_zone)
        if not later:
            raise ValueError("the rep's working hours never happen on that zone's clock")
        rep_next = later[0][0]
    return Slot(moment(rep_next), outside_window=True)


def overlap_minutes(
    rep_hours: WeeklyHours,
    rep_zone: ZoneInfo,
    customer_zone: ZoneInfo,
    customer_daytime: WeeklyHours,
    week_start: dt.datetime,
) -> int:
    """Minutes in the week from ``week_start`` when the rep works while the customer is awake.

    Used to give a customer the rep whose day suits them best. Callers ranking reps pass one fixed week so
    the ranking does not move in the weeks when only one of the two zones has changed its clocks.
    """
    start = micros(week_start)
    end = start + 7 * _DAY
    rep = rep_hours.utc_micros(start, end, rep_zone)
    common = intersect(rep, customer_daytime.utc_micros(start, end, customer_zone))
    return sum(hi - lo for lo, hi in common) // _MINUTE
