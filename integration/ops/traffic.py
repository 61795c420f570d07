"""Webhooks per minute by platform and result, for the overview (Redis, one hash per minute).

Rejected deliveries are never stored, so the database cannot say how many there were: each answer of
the webhook edge is counted here (and in the Prometheus counter, see ``metrics``) by an ``after_request``
hook. One pipelined ``HINCRBY`` + ``EXPIRE`` per delivery; keys expire after two hours.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

import redis

log = logging.getLogger(__name__)

KEY = "ops:webhooks:{minute}"
KEEP = 2 * 3600
RESULTS = ("accepted", "duplicate", "rejected")


def result_of(status: int, duplicate: bool | None) -> str:
    if status == 200:
        return "duplicate" if duplicate else "accepted"
    return "rejected"


def record(client: redis.Redis, platform: str, result: str, status: int, now: float | None = None) -> None:
    minute = int((now if now is not None else time.time()) // 60)
    key = KEY.format(minute=minute)
    try:
        pipe = client.pipeline(transaction=False)
        pipe.hincrby(key, f"{platform}|{result}|{status}", 1)
        pipe.expire(key, KEEP)
        pipe.execute()
    except redis.RedisError as exc:  # counting must never cost a platform its answer
        log.warning("webhook counter not recorded: %s", type(exc).__name__)


@dataclass
class Traffic:
    """The last ``minutes`` minutes, oldest first."""

    minutes: list[dt.datetime]
    # per minute: {(platform, result): count}
    per_minute: list[dict[tuple[str, str], int]]
    # totals over the window by (platform, result, status)
    by_status: dict[tuple[str, str, int], int] = field(default_factory=dict)

    def total(self, platform: str | None = None, result: str | None = None) -> int:
        return sum(
            n
            for (p, r, _s), n in self.by_status.items()
            if (platform is None or p == platform) and (result is None or r == result)
        )

    @property
    def platforms(self) -> list[str]:
        return sorted({p for (p, _r, _s) in self.by_status})

    def last_minute(self, platform: str, result: str) -> int:
        # The minute that just ended (the current one is still filling up).
        return self.per_minute[-2].get((platform, result), 0) if len(self.per_minute) > 1 else 0


def read(client: redis.Redis, minutes: int = 60, now: float | None = None) -> Traffic:
    current = int((now if now is not None else time.time()) // 60)
    span = list(range(current - minutes + 1, current + 1))
    pipe = client.pipeline(transaction=False)
    for minute in span:
        pipe.hgetall(KEY.format(minute=minute))
    traffic = Traffic(minutes=[dt.datetime.fromtimestamp(m * 60, dt.UTC) for m in span], per_minute=[])
    for raw in pipe.execute():
        counts: dict[tuple[str, str], int] = {}
        for name, value in raw.items():
            platform, result, status = name.decode().split("|")
            counts[(platform, result)] = counts.get((platform, result), 0) + int(value)
            key = (platform, result, int(status))
            traffic.by_status[key] = traffic.by_status.get(key, 0) + int(value)
        traffic.per_minute.append(counts)
    return traffic
