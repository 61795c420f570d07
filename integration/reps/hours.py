"""Weekly hours: a rep's working hours, a shop's calling window, a customer's daytime.

Text (what merchants type, and the ``--hours`` flag)::

    hours := part ( (";" | ",") part )*
    part  := DAYS [ HH:MM "-" HH:MM ]
    DAYS  := DAY | DAY "-" DAY

``Mon-Fri 09:00-17:00; Sat 10:00-14:00``. A range may wrap over the weekend (``Fri-Mon``). A part with
days but no times takes the times of the next part, which is how lists read naturally without an
ambiguous comma: ``Mon, Wed 09:00-12:00`` is ``Mon 09:00-12:00; Wed 09:00-12:00``; ``;`` and ``,`` are
interchangeable. A DAY is any case and any two or more leading letters of its English name (``Mo``,
``Tues``, ``Thursday``). Times are 24-hour; a span ends after it starts, so a night shift is two parts
(``Mon 22:00-24:00; Tue 00:00-06:00``) and ``24:00`` is allowed as an end. Repeating days adds spans
(``Mon-Fri 09:00-12:30; Mon-Fri 13:30-17:00`` is a lunch break); overlapping or touching spans merge.

Hours are wall-clock hours in a zone, turned into real (UTC) intervals per local day; see :func:`_instant`
for what a time the clocks skip or repeat means.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_PART_RE = re.compile(
    r"(?P<first>[a-z]+)(?:\s*-\s*(?P<last>[a-z]+))?"
    r"(?:\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2}))?",
    re.IGNORECASE,
)
_MAX_TEXT = 1000  # far more than any week needs; beyond that it is a paste gone wrong
_SHOWN = 40  # at most this much of a bad part goes back into a message
EXAMPLE = "Mon-Fri 09:00-17:00"

Span = tuple[int, int]  # minutes since local midnight, end exclusive (0..1440)


def _shown(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "...")


def _minutes(text: str, *, end: bool) -> int:
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"{_shown(text)} is not a time like 09:00")
    h, m = int(hours), int(minutes)
    if m > 59 or h > 24 or (h == 24 and (m or not end)):
        raise ValueError(f"{_shown(text)} is not a time of day (use 00:00 to 23:59, or 24:00 as an end)")
    return h * 60 + m


def _day(token: str) -> int:
    word = token.lower()
    if len(word) >= 2:
        for index, name in enumerate(_NAMES):
            if name.startswith(word):
                return index
    raise ValueError(f"{_shown(token)} is not a day (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)")


def _day_range(first: str, last: str | None) -> list[int]:
    """The days from ``first`` to ``last`` inclusive, wrapping past Sunday (``Fri-Mon``)."""
    start = _day(first)
    stop = start if last is None else _day(last)
    return [(start + i) % 7 for i in range((stop - start) % 7 + 1)]


def _merge(spans: Iterable[Span]) -> tuple[Span, ...]:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((a, b) for a, b in merged)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _days_text(days: list[int]) -> str:
    """``[0, 1, 2, 3, 4]`` -> ``Mon-Fri``; ``[0, 2]`` -> ``Mon, Wed``; ``[0, 4, 5, 6]`` -> ``Fri-Mon``."""
    chosen = set(days)
    if len(chosen) == 7:
        return "Mon-Sun"
    runs: list[str] = []
    for first in sorted(chosen):
        if (first - 1) % 7 in chosen:
            continue  # not the start of a run
        last = first
        while (last + 1) % 7 in chosen:
            last = (last + 1) % 7
        runs.append(DAYS[first].title() if last == first else f"{DAYS[first].title()}-{DAYS[last].title()}")
    return ", ".join(runs)


@dataclass(frozen=True)
class WeeklyHours:
    """Per weekday (0 = Monday), sorted, disjoint, non-touching spans of local minutes."""

    days: tuple[tuple[Span, ...], ...]

    @classmethod
    def from_spans(cls, spans: Mapping[int, Iterable[Span]]) -> WeeklyHours:
        for day, day_spans in spans.items():
            for start, end in day_spans:
                if not (0 <= day < 7 and 0 <= start < end <= 1440):
                    raise ValueError(f"not a span of a day: {day}, {start}-{end}")
        return cls(tuple(_merge(spans.get(day, ())) for day in range(7)))

    @property
    def empty(self) -> bool:
        return not any(self.days)

    def to_json(self) -> str:
        """``{"mon":[["09:00","17:00"]],...}``: days without hours are left out."""
        return json.dumps(
            {DAYS[d]: [[_hhmm(a), _hhmm(b)] for a, b in spans] for d, spans in enumerate(self.days) if spans},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> WeeklyHours:
        """The inverse of :meth:`to_json`; anything else stored is a ValueError, never a TypeError later."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            spans: dict[int, list[Span]] = {}
            for day, day_spans in data.items():
                if day not in DAYS or not isinstance(day_spans, list):
                    raise ValueError(f"bad day {day!r}")
                for start, end in day_spans:
                    spans.setdefault(DAYS.index(day), []).append((_minutes(start, end=False), _minutes(end, end=True)))
            return cls.from_spans(spans)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValueError(f"stored hours are not valid: {str(exc)[:80]}") from None

    def __str__(self) -> str:
        """Back to the text syntax: days with the same spans share a part; ``parse_hours`` reads it back."""
        groups: dict[tuple[Span, ...], list[int]] = {}
        for day, spans in enumerate(self.days):
            if spans:
                groups.setdefault(spans, []).append(day)
        parts: list[tuple[str, str]] = []
        for spans, days in groups.items():
            text = _days_text(days)
            parts += [(text, f"{text} {_hhmm(a)}-{_hhmm(b)}") for a, b in spans]
        # Groups in the order of their first day as written (a wrapping Fri-Mon group sorts at Fri).
        order = {text: DAYS.index(text[:3].lower()) for text, _ in parts}
        return "; ".join(part for _, part in sorted(parts, key=lambda p: order[p[0]]))

    def intervals(self, start: dt.datetime, end: dt.datetime, zone: ZoneInfo) -> list[tuple[dt.datetime, dt.datetime]]:
        """The UTC intervals of these local hours within [start, end) (aware bounds), sorted and disjoint.

        Built per local day from wall-clock times, so 09:00-17:00 is 09:00 to 17:00 on the clock before and
        after a DST change (8 hours on an ordinary day; a span across the change is an hour shorter or longer).
        """
        return [(moment(a), moment(b)) for a, b in self.utc_micros(micros(start), micros(end), zone)]

    def utc_micros(self, start: int, end: int, zone: ZoneInfo) -> list[tuple[int, int]]:
        """:meth:`intervals` in microseconds since the epoch: the hot path, as integers compare far faster
        than aware datetimes (which ask their zones for offsets at every comparison)."""
        found: list[list[int]] = []
        # Local dates are within a day of UTC dates; one more day before, as a local day can begin (00:00)
        # after the UTC moment its date suggests. Spare days cost only cache look-ups.
        day = start // _DAY + _EPOCH_DAY - 2
        last = end // _DAY + _EPOCH_DAY + 1
        while day <= last:
            for a, b in self.days[(day - 1) % 7]:  # ordinal 1 (0001-01-01) was a Monday
                lo = max(_instant(day, a, zone), start)
                hi = min(_instant(day, b, zone), end)
                if lo < hi:
                    if found and lo <= found[-1][1]:  # 24:00 meets the next day's 00:00
                        found[-1][1] = hi
                    else:
                        found.append([lo, hi])
            day += 1
        return [(lo, hi) for lo, hi in found]


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_DAY = _EPOCH.toordinal()
_MICRO = dt.timedelta(microseconds=1)
_DAY = 86_400_000_000


def micros(when: dt.datetime) -> int:
    """An aware datetime as microseconds since the epoch."""
    if when.tzinfo is None:
        raise ValueError("hours need aware datetimes (UTC), not naive ones")
    return (when - _EPOCH) // _MICRO


def moment(value: int) -> dt.datetime:
    """Microseconds since the epoch as an aware UTC datetime."""
    return _EPOCH + dt.timedelta(microseconds=value)


@functools.lru_cache(maxsize=16384)  # every delivery event asks about the same few days and zones
def _instant(day: int, minutes: int, zone: ZoneInfo) -> int:
    """The first moment the clock in ``zone`` shows ``minutes`` after midnight of ``day`` (an ordinal), or
    later, in microseconds since the epoch.

    Why this rule: it keeps a day's times in order (so no span turns inside out) and reads the way people
    work, "start when the clock first says 09:00". For the two DST cases:

    * a time that happens twice (01:30 on a fall-back night) is its first occurrence, zoneinfo's fold=0; a
      span 01:00-02:00 that night runs from 01:00 summer time to 02:00 winter time, two real hours;
    * a time the clocks skip (02:30 on a spring-forward night) is the moment of the jump (03:00 new time):
      a span 02:30-04:00 that night is 03:00-04:00, and a span wholly inside the gap is empty that day.
      (zoneinfo's fold=0 alone would say 03:30, after the 03:15 end of a 02:30-03:15 span.)
    """
    naive = dt.datetime.fromordinal(day) + dt.timedelta(minutes=minutes)
    # PEP 495: fold=0 reads a local time with the offset from before a change, fold=1 with the one after.
    first = _offset(naive.replace(tzinfo=zone))
    second = _offset(naive.replace(tzinfo=zone, fold=1))
    if first >= second:  # equal: an ordinary time; greater: a repeated one, and fold=0 is its first time
        return micros((naive - first).replace(tzinfo=dt.UTC))
    # Skipped (the clocks went forward past it): the jump lies between the two readings; find it.
    before, after = naive - second, naive - first
    while after - before > dt.timedelta(seconds=1):  # a dozen steps for an hour's gap; rare
        middle = before + (after - before) / 2
        if _offset(middle.replace(tzinfo=dt.UTC).astimezone(zone)) == second:
            after = middle
        else:
            before = middle
    return micros(after.replace(microsecond=0, tzinfo=dt.UTC))


def _offset(when: dt.datetime) -> dt.timedelta:
    offset = when.utcoffset()
    if offset is None:  # never for a ZoneInfo; for the type checker
        raise ValueError("no UTC offset")
    return offset


def parse_hours(text: str) -> WeeklyHours:
    """Parse the text syntax; ValueError says which part is wrong and how to write it."""
    if not text or not text.strip():
        raise ValueError(f"no hours given (e.g. {EXAMPLE})")
    if len(text) > _MAX_TEXT:
        raise ValueError(f"hours are at most {_MAX_TEXT} characters")
    spans: dict[int, list[Span]] = {}
    waiting: list[int] = []  # days of parts without times, for the next part's times
    waiting_text = ""
    # Dashes pasted from documents are hyphens here.
    for part in re.split(r"[;,]", text.replace("\u2013", "-").replace("\u2014", "-")):
        if not part.strip():
            continue
        match = _PART_RE.fullmatch(part.strip())
        if match is None and part.strip()[:1].isdigit():
            raise ValueError(f"{_shown(part)} needs days in front (e.g. '{EXAMPLE}')")
        if match is None:
            raise ValueError(f"{_shown(part)} is not like '{EXAMPLE}'")
        days = _day_range(match["first"], match["last"])
        if match["start"] is None:
            waiting += days
            waiting_text = part
            continue
        start = _minutes(match["start"], end=False)
        end = _minutes(match["end"], end=True)
        if end <= start:
            raise ValueError(
                f"{match['start']}-{match['end']} does not end after it starts; hours cannot run past midnight, "
                "so split a night in two, e.g. 'Mon 22:00-24:00; Tue 00:00-06:00'"
            )
        for day in [*waiting, *days]:
            spans.setdefault(day, []).append((start, end))
        waiting = []
    if waiting:
        raise ValueError(f"{_shown(waiting_text)} has no times (e.g. 'Sat 10:00-14:00')")
    return WeeklyHours.from_spans(spans)


UTC = ZoneInfo("UTC")


def zone(name: str | None) -> ZoneInfo:
    """The zone named ``name``; UTC for none, or for a name this tz database does not know."""
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC
