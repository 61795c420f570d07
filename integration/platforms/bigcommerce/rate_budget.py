"""One BigCommerce store's API quota and concurrency, shared by every worker process through Redis.

Every app on a store spends the same quota (requests per window), and each response says what is left
(``X-Rate-Limit-Requests-Left``) and when the window resets (``X-Rate-Limit-Time-Reset-Ms``). A process
pacing itself from its own responses cannot see the others' calls, so N workers would each spend the
"last" requests and collect 429s. Here the store's record lives in Redis instead:

* ``pc:bc:{store}:quota`` (hash): ``tokens``, the requests we may still spend in the window; ``reset_at``,
  when the window ends (ms on the Redis clock); ``gen``, which window that is; and the store's ``quota``
  and ``window`` (ms) as last reported.
* ``pc:bc:{store}:leases`` (sorted set): one member per call in flight, scored by when its lease expires,
  so the slot of a worker that died mid-call frees itself.

Both change only inside Lua scripts that read the time from Redis, so all processes agree on the clock
and a check and its update are one step. Waits are bounded: past ``max_wait`` the call raises
:class:`TransientPlatformError` with ``retry_after`` so the job is retried later instead of holding a worker.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from redis import Redis

from integration.platforms.interfaces import QUOTA_WAIT_LIMIT, QuotaWait

log = logging.getLogger(__name__)

DEFAULT_MAX_CONCURRENCY = 3  # BigCommerce's documented cap on customer writes and attribute endpoints
# Longer than the client's worst call (connect 5 s + read 20 s) so a live call never loses its slot.
DEFAULT_LEASE_SECONDS = 60.0
# Knowledge of a store's quota and window outlives idle spells, so the first calls after one are paced.
RECORD_TTL_MS = 3_600_000

# KEYS[1] quota hash. ARGV: reserve, ttl ms. Returns {ms to wait (0 = one request reserved), gen}.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local f = redis.call('HMGET', KEYS[1], 'tokens', 'reset_at', 'gen', 'quota', 'window')
local tokens, reset_at, gen = tonumber(f[1]) or 0, tonumber(f[2]), tonumber(f[3]) or 0
local quota, window = tonumber(f[4]), tonumber(f[5])
if reset_at == nil then
  return {0, gen}
end
if now >= reset_at then
  if quota == nil or window == nil then
    return {0, gen}
  end
  -- The window is over: start our own estimate of the next one now. It ends no earlier than the
  -- platform's, and processes starting together share its quota instead of each assuming all of it.
  tokens, reset_at, gen = quota, now + window, gen + 1
  redis.call('HSET', KEYS[1], 'tokens', tokens, 'reset_at', reset_at, 'gen', gen)
end
local reserve = tonumber(ARGV[1])
if quota ~= nil and quota <= reserve then
  reserve = math.max(quota - 1, 0)
end
if tokens > reserve then
  redis.call('HSET', KEYS[1], 'tokens', tokens - 1)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {0, gen}
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {reset_at - now, gen}
"""

# KEYS[1] quota hash. ARGV: gen the call was reserved in, requests left, ms to reset, quota (0 = not
# sent), window ms (0 = not sent), 1 if rate limited, ttl ms.
_NOTE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local sent_gen, left, reset_ms = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local quota, window, limited = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6] == '1'
if quota > 0 then redis.call('HSET', KEYS[1], 'quota', quota) end
if window > 0 then redis.call('HSET', KEYS[1], 'window', window) end
local f = redis.call('HMGET', KEYS[1], 'tokens', 'reset_at', 'gen')
local tokens, reset_at, gen = tonumber(f[1]) or 0, tonumber(f[2]), tonumber(f[3]) or 0
local new_reset = now + reset_ms
if reset_ms > 0 then
  if reset_at == nil or now >= reset_at then
    -- No live window on record: this response describes the current one.
    redis.call('HSET', KEYS[1], 'tokens', left, 'reset_at', new_reset, 'gen', gen + 1)
  elseif limited then
    -- Someone (maybe another app) spent it all. Keep the later end so a stale 429 cannot end a
    -- window we already started counting early.
    redis.call('HSET', KEYS[1], 'tokens', 0, 'reset_at', math.max(reset_at, new_reset))
  elseif sent_gen == gen then
    -- Other apps spend the same quota: the platform's count wins when it is lower than ours.
    redis.call('HSET', KEYS[1], 'tokens', math.min(tokens, left), 'reset_at', new_reset)
  end
  -- else: the call was reserved in an earlier window; its count says nothing about this one.
end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return 0
"""

# KEYS[1] leases. ARGV: lease id, cap, lease ms. Returns 1 when the lease is taken.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
"""


def quota_key(store_hash: str) -> str:
    return f"pc:bc:{store_hash}:quota"


def budget_left(redis: Redis, store_hash: str) -> str | None:
    """The store's requests left in this window as last reported, for ops (None: no call recorded lately)."""
    tokens, quota = redis.hmget(quota_key(store_hash), "tokens", "quota")
    if tokens is None:
        return None
    left = max(0, int(float(tokens)))
    return f"{left} of {int(float(quota))} requests left" if quota else f"{left} requests left"


def leases_key(store_hash: str) -> str:
    return f"pc:bc:{store_hash}:leases"


def _number(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class StoreBudget:
    """The shared quota and concurrency cap of one store (cheap to build; all state is in Redis).

    ``reserve`` requests are left unspent each window, for other apps and for calls that straddle a
    window's end; it defaults to ``max_concurrency - 1`` (the most that can be in flight besides the
    caller) and at least 2. ``lease_seconds`` must exceed the longest call.
    """

    def __init__(
        self,
        redis: Redis,
        store_hash: str,
        *,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        reserve: int | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        max_wait: float = 30.0,
        poll_interval: float = 0.02,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.store_hash = store_hash
        self.max_concurrency = max_concurrency
        self.reserve = reserve if reserve is not None else max(2, max_concurrency - 1)
        self._redis = redis
        self._lease_ms = max(1, round(lease_seconds * 1000))
        self._max_wait = max_wait
        self._poll = poll_interval
        self._sleep = sleep
        self._monotonic = monotonic
        self._quota_key = quota_key(store_hash)
        self._leases_key = leases_key(store_hash)
        # register_script sends EVALSHA and falls back to loading the script when Redis lacks it.
        self._take = redis.register_script(_TAKE)
        self._note = redis.register_script(_NOTE)
        self._acquire = redis.register_script(_ACQUIRE)

    def _wait_limit(self) -> float:
        limit = QUOTA_WAIT_LIMIT.get()
        return self._max_wait if limit is None else min(limit, self._max_wait)

    # -- quota

    def try_reserve(self) -> tuple[float, int]:
        """(0, gen) when one request was reserved, else (seconds until the window resets, gen)."""
        wait_ms, gen = self._take(keys=[self._quota_key], args=[self.reserve, RECORD_TTL_MS])
        return max(int(wait_ms), 0) / 1000.0, int(gen)

    def reserve_request(self) -> int:
        """Wait until the store's quota allows one more request and reserve it; returns the window's gen.

        Raises QuotaWait (with ``retry_after``) when that would take longer than ``max_wait``, or than the
        caller's ``QUOTA_WAIT_LIMIT`` (event processing steps aside rather than wait).
        """
        deadline = self._monotonic() + self._wait_limit()
        while True:
            wait, gen = self.try_reserve()
            if wait <= 0:
                return gen
            remaining = deadline - self._monotonic()
            if wait > remaining:
                raise QuotaWait(
                    f"BigCommerce store {self.store_hash}: API quota spent; resets in {wait:.1f} s", retry_after=wait
                )
            log.info("BigCommerce store %s is out of API quota; waiting %.2f s", self.store_hash, wait)
            self._sleep(wait)

    def record(
        self,
        gen: int | None,
        *,
        left: float,
        reset_ms: float,
        quota: float | None = None,
        window_ms: float | None = None,
        rate_limited: bool = False,
    ) -> None:
        """Store what a response said about the quota (``gen``: from :meth:`reserve_request`)."""
        args = [
            gen if gen is not None else -1,
            max(int(left), 0),
            max(math.ceil(reset_ms), 0),  # rounded up: waiting a millisecond long beats a 429
            max(int(quota or 0), 0),
            max(int(window_ms or 0), 0),
            1 if rate_limited else 0,
            RECORD_TTL_MS,
        ]
        self._note(keys=[self._quota_key], args=args)

    def record_response(self, gen: int | None, status: int, headers: Mapping[str, str]) -> None:
        """:meth:`record` from a response's ``X-Rate-Limit-*`` headers (``X-Retry-After`` on a 429)."""
        left = _number(headers, "X-Rate-Limit-Requests-Left")
        reset_ms = _number(headers, "X-Rate-Limit-Time-Reset-Ms")
        limited = status == 429
        if limited:
            left = 0.0
            if reset_ms is None:
                retry_after = _number(headers, "X-Retry-After")
                reset_ms = retry_after * 1000.0 if retry_after is not None else None
        if left is None or reset_ms is None:
            return  # e.g. a proxy's 502: nothing is known about the quota
        self.record(
            gen,
            left=left,
            reset_ms=reset_ms,
            quota=_number(headers, "X-Rate-Limit-Requests-Quota"),
            window_ms=_number(headers, "X-Rate-Limit-Time-Window-Ms"),
            rate_limited=limited,
        )

    # -- concurrency

    def try_acquire(self) -> str | None:
        """A lease id when fewer than ``max_concurrency`` calls are in flight for the store, else None."""
        lease = uuid.uuid4().hex
        taken = self._acquire(keys=[self._leases_key], args=[lease, self.max_concurrency, self._lease_ms])
        return lease if int(taken) == 1 else None

    def release(self, lease: str) -> None:
        self._redis.zrem(self._leases_key, lease)

    @contextmanager
    def lease(self) -> Iterator[None]:
        """Hold one of the store's concurrent-call slots for the duration of the block."""
        deadline = self._monotonic() + self._wait_limit()
        delay = self._poll
        while (lease := self.try_acquire()) is None:
            if self._monotonic() + delay > deadline:
                raise QuotaWait(
                    f"BigCommerce store {self.store_hash}: {self.max_concurrency} calls already in flight",
                    retry_after=1.0,
                )
            self._sleep(delay)
            delay = min(delay * 2, 0.25)  # slots free within a call's time; no need to poll harder
        try:
            yield
        finally:
            self.release(lease)


BudgetFactory = Callable[[str], StoreBudget]


def budget_factory(redis: Redis, *, max_concurrency: int = DEFAULT_MAX_CONCURRENCY) -> BudgetFactory:
    """Builds the :class:`StoreBudget` of a store hash, all on one Redis."""

    def for_store(store_hash: str) -> StoreBudget:
        return StoreBudget(redis, store_hash, max_concurrency=max_concurrency)

    return for_store


__all__ = ["BudgetFactory", "StoreBudget", "budget_factory", "budget_left", "leases_key", "quota_key"]
