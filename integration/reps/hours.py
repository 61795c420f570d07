"""Weekly hours: a rep's working hours, a shop's calling window, a customer's daytime.

Text (what merchants type, and the ``--hours`` flag): parts separated by ``;``, each ``DAYS HH:MM-HH:MM``
where DAYS is a day (``Sat``) or a range (``Mon-Fri``; ``Fri-Mon`` wraps over the weekend). Days are
English three-letter names, any case; times are 24-hour. ``Mon-Fri 09:00-12:30; Mon-Fri 13:30-17:00``
has a lunch break. A range ends after it starts: a night shift is two parts (``Mon 22:00-24:00; Tue
00:00-06:00``), so ``24:00`` is allowed as an end.

Hours are wall-clock hours in a zone: 09:00-17:00 on the day clocks spring forward is still 09:00 to
17:00 there (seven hours of it on a day whose night lost one never happens within working hours in any
real zone, but the arithmetic holds: intervals are built from local times, then made UTC).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PART_RE = re.compile(
    r"\s*(?P<first>[a-z]{3})(?:\s*-\s*(?P<last>[a-z]{3}))?\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*",
    re.IGNORECASE,
)
_MAX_PARTS = 21  # three per day is plenty; more is a paste gone wrong

Span = tuple[int, int]  # minutes since local midnight, end exclusive (0..1440)


def _minutes(text: str, *, end: bool) -> int:
    hours, minutes = (int(x) for x in text.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not end)):
        raise ValueError(f"{text!r} is not a time of day (use 00:00 to 23:59, or 24:00 as an end)")
    return hours * 60 + minutes


def _day_range(first: str, last: str | None) -> list[int]:
    try:
        start = DAYS.index(first.lower())
        stop = DAYS.index((last or first).lower())
    except ValueError:
        raise ValueError(
            f"{first if last is None else f'{first}-{last}'!r}: days are Mon, Tue, Wed, Thu, Fri, Sat, Sun"
        ) from None
    return [(start + i) % 7 for i in range((stop - start) % 7 + 1)]


def _merge(spans: Iterable[Span]) -> tuple[Span, ...]:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((a, b) for a, b in merged)


@dataclass(frozen=True)
class WeeklyHours:
    """Per weekday (0 = Monday), sorted non-overlapping spans of local minutes."""

    days: tuple[tuple[Span, ...], ...]

    @classmethod
    def from_spans(cls, spans: Mapping[int, Iterable[Span]]) -> WeeklyHours:
        return cls(tuple(_merge(spans.get(day, ())) for day in range(7)))

    @property
    def empty(self) -> bool:
        return not any(self.days)

    def to_json(self) -> str:
        return json.dumps(
            {DAYS[d]: [[_hhmm(a), _hhmm(b)] for a, b in spans] for d, spans in enumerate(self.days) if spans},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> WeeklyHours:
        data = json.loads(text)
        return cls.from_spans(
            {
                DAYS.index(day): [(_minutes(a, end=False), _minutes(b, end=True)) for a, b in spans]
                for day, spans in data.items()
            }
        )

    def __str__(self) -> str:
        """Back to the text syntax, days with the same spans grouped into ranges."""
        parts: list[str] = []
        day = 0
        while day < 7:
            spans = self.days[day]
            last = day
            while last + 1 < 7 and self.days[last + 1] == spans:
                last += 1
            if spans:
                days = DAYS[day].title() if last == day else f"{DAYS[day].title()}-{DAYS[last].title()}"
                parts += [f"{days} {_hhmm(a)}-{_hhmm(b)}" for a, b in spans]
            day = last + 1
        return "; ".join(parts)

    def intervals(self, start: dt.datetime, end: dt.datetime, zone: ZoneInfo) -> list[tuple[dt.datetime, dt.datetime]]:
        """The UTC intervals of these local hours within [start, end) (both aware)."""
        found: list[tuple[dt.datetime, dt.datetime]] = []
        local_day = start.astimezone(zone).date() - dt.timedelta(days=1)
        last_day = end.astimezone(zone).date()
        while local_day <= last_day:
            for a, b in self.days[local_day.weekday()]:
                begin = _local(local_day, a, zone)
                finish = _local(local_day, b, zone)
                lo, hi = max(begin, start), min(finish, end)
                if lo < hi:
                    found.append((lo.astimezone(dt.UTC), hi.astimezone(dt.UTC)))
            local_day += dt.timedelta(days=1)
        return found


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _local(day: dt.date, minutes: int, zone: ZoneInfo) -> dt.datetime:
    """Wall-clock ``minutes`` after local midnight of ``day``, as an aware moment.

    A time the clocks skip (02:30 on a spring-forward night) resolves with fold=0, i.e. as if the old
    offset still held, which lands just after the jump; a time that happens twice takes its first
    occurrence. Either way the moment exists and the order of a day's times is kept.
    """
    naive = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minutes)
    return naive.replace(tzinfo=zone).astimezone(dt.UTC)


def parse_hours(text: str) -> WeeklyHours:
    """Parse the text syntax; ValueError says which part is wrong and how to write it."""
    if not text or not text.strip():
        raise ValueError("no hours given (e.g. Mon-Fri 09:00-17:00)")
    parts = [part for part in text.split(";") if part.strip()]
    if len(parts) > _MAX_PARTS:
        raise ValueError(f"at most {_MAX_PARTS} parts")
    spans: dict[int, list[Span]] = {}
    for part in parts:
        match = _PART_RE.fullmatch(part)
        if match is None:
            shown = part.strip()[:40]
            raise ValueError(f"{shown!r} is not like 'Mon-Fri 09:00-17:00' (parts are separated by ';')")
        start = _minutes(match["start"], end=False)
        end = _minutes(match["end"], end=True)
        if end <= start:
            raise ValueError(f"{match['start']}-{match['end']} ends before it starts (split a night into two days)")
        for day in _day_range(match["first"], match["last"]):
            spans.setdefault(day, []).append((start, end))
    return WeeklyHours.from_spans(spans)
