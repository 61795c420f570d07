"""The BigCommerce quota and concurrency cap shared through Redis (integration/platforms/rate_budget.py).

Unit tests drive the Lua arithmetic on the suite's real Redis; the process tests run several spawned
processes against the real-HTTP fake with a small real quota, with and without the shared budget.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Iterator
from multiprocessing.pool import Pool
from types import SimpleNamespace
from typing import Any, cast

import pytest
from redis import Redis

from integration.core.config import Settings
from integration.core.runtime import Runtime
from integration.events.processing import default_adapters
from integration.platforms.bigcommerce.adapter import BigCommerceAdapter
from integration.platforms.bigcommerce.client import BigCommerceClient
from integration.platforms.bigcommerce.connection import store_client
from integration.platforms.bigcommerce.rate_budget import StoreBudget, budget_factory, leases_key, quota_key
from integration.platforms.interfaces import ShopAccess, StoredEvent, TransientPlatformError
from tests.fakes.bigcommerce_api import FakeBigCommerce, sample_order
from tests.helpers import BC_TOKEN, STORE_HASH, FakeClock, RuntimeFactory

ORDER_PATH = "/v2/orders/218"


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def fake(fake_bc: FakeBigCommerce) -> FakeBigCommerce:
    """The fake BigCommerce, its store holding order 218."""
    fake_bc.add_order(STORE_HASH, sample_order())
    return fake_bc


def record(redis_client: Redis) -> dict[str, int]:
    raw = redis_client.hgetall(quota_key(STORE_HASH))
    return {key.decode(): int(value) for key, value in raw.items()}


# ------------------------------------------------------------------------------------------- arithmetic


def test_a_store_never_heard_from_lets_calls_through_untracked(redis_client: Redis) -> None:
    assert StoreBudget(redis_client, STORE_HASH).try_reserve() == (0.0, 0)
    assert record(redis_client) == {}


def test_calls_are_reserved_down_to_the_reserve_then_wait_for_the_reset(redis_client: Redis) -> None:
    budget = StoreBudget(redis_client, STORE_HASH)  # reserve 2
    budget.record(None, left=5, reset_ms=2000, quota=10, window_ms=30000)
    gen = record(redis_client)["gen"]

    assert [budget.try_reserve() for _ in range(3)] == [(0.0, gen)] * 3
    wait, same_gen = budget.try_reserve()
    assert 0 < wait <= 2.0
    assert same_gen == gen
    assert record(redis_client)["tokens"] == 2


def test_the_platforms_count_wins_only_when_lower(redis_client: Redis) -> None:
    budget = StoreBudget(redis_client, STORE_HASH)
    budget.record(None, left=9, reset_ms=20000)
    _, gen = budget.try_reserve()  # 8 left as far as we know
    budget.record(gen, left=9, reset_ms=19990)  # answered before our other call was counted
    assert record(redis_client)["tokens"] == 8
    budget.record(gen, left=4, reset_ms=19980)  # another app spent some
    assert record(redis_client)["tokens"] == 4


def test_an_answer_to_a_call_reserved_in_an_earlier_window_is_ignored(redis_client: Redis) -> None:
    budget = StoreBudget(redis_client, STORE_HASH)
    budget.record(None, left=9, reset_ms=20000)
    gen = record(redis_client)["gen"]
    budget.record(gen - 1, left=0, reset_ms=20000)
    assert record(redis_client)["tokens"] == 9


def test_a_429_empties_the_window_whichever_window_the_call_was_from(redis_client: Redis) -> None:
    budget = StoreBudget(redis_client, STORE_HASH)
    budget.record(None, left=9, reset_ms=20000)
    budget.record_response(None, 429, {"X-Retry-After": "3"})  # no X-Rate-Limit-* headers at all
    assert record(redis_client)["tokens"] == 0
    wait, _ = budget.try_reserve()
    assert 2.0 < wait <= 20.0  # the later of the two ends wins


def test_a_response_without_quota_headers_changes_nothing(redis_client: Redis) -> None:
    budget = StoreBudget(redis_client, STORE_HASH)
    budget.record_response(None, 502, {"Content-Type": "text/html"})
    assert record(redis_client) == {}


def test_an_ended_window_restarts_with_the_full_quota_shared_by_all(redis_client: Redis) -> None:
    budget = StoreBudget(redis_client, STORE_HASH)
    budget.record(None, left=0, reset_ms=1, quota=10, window_ms=30000)
    gen = record(redis_client)["gen"]
    time.sleep(0.01)  # past the reset on the Redis clock

    assert budget.try_reserve() == (0.0, gen + 1)
    assert record(redis_client)["tokens"] == 9
    other_process = StoreBudget(redis_client, STORE_HASH)
    assert other_process.try_reserve() == (0.0, gen + 1)
    assert record(redis_client)["tokens"] == 8


def test_an_ended_window_of_unknown_size_lets_calls_through(redis_client: Redis) -> None:
    budget = StoreBudget(redis_client, STORE_HASH)
    budget.record(None, left=0, reset_ms=1)
    time.sleep(0.01)
    assert budget.try_reserve()[0] == 0.0


def test_a_quota_no_larger_than_the_reserve_still_allows_calls(redis_client: Redis) -> None:
    budget = StoreBudget(redis_client, STORE_HASH, reserve=5)
    budget.record(None, left=2, reset_ms=20000, quota=2, window_ms=30000)
    assert budget.try_reserve()[0] == 0.0
    assert budget.try_reserve()[0] > 0


def test_the_default_reserve_covers_the_calls_that_can_be_in_flight() -> None:
    redis_client = Redis()  # never contacted
    assert StoreBudget(redis_client, STORE_HASH).reserve == 2
    assert StoreBudget(redis_client, STORE_HASH, max_concurrency=6).reserve == 5
    assert StoreBudget(redis_client, STORE_HASH, max_concurrency=6, reserve=1).reserve == 1
    with pytest.raises(ValueError):
        StoreBudget(redis_client, STORE_HASH, max_concurrency=0)


def test_reserve_request_waits_for_the_reset(redis_client: Redis) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    budget = StoreBudget(redis_client, STORE_HASH, sleep=sleep)
    budget.record(None, left=0, reset_ms=30, quota=10, window_ms=30000)
    gen = record(redis_client)["gen"]
    assert budget.reserve_request() == gen + 1
    assert slept


def test_a_wait_longer_than_max_wait_is_left_to_a_retry(redis_client: Redis, clock: FakeClock) -> None:
    budget = StoreBudget(redis_client, STORE_HASH, max_wait=1.0, sleep=clock.sleep, monotonic=clock.monotonic)
    budget.record(None, left=0, reset_ms=5000, quota=10, window_ms=30000)
    with pytest.raises(TransientPlatformError) as raised:
        budget.reserve_request()
    assert raised.value.retry_after is not None
    assert 1.0 < raised.value.retry_after <= 5.0
    assert clock.sleeps == []  # no worker is held for a wait it cannot finish


# ------------------------------------------------------------------------------------------- leases


def test_leases_are_capped_per_store_and_freed_on_release(redis_client: Redis) -> None:
    budget = StoreBudget(redis_client, STORE_HASH, max_concurrency=2)
    first, second = budget.try_acquire(), budget.try_acquire()
    assert first is not None and second is not None
    assert budget.try_acquire() is None
    assert StoreBudget(redis_client, "otherstore", max_concurrency=2).try_acquire() is not None
    budget.release(first)
    assert budget.try_acquire() is not None


def test_a_full_store_is_left_to_a_retry_after_max_wait(redis_client: Redis, clock: FakeClock) -> None:
    budget = StoreBudget(
        redis_client, STORE_HASH, max_concurrency=1, max_wait=1.0, sleep=clock.sleep, monotonic=clock.monotonic
    )
    assert budget.try_acquire() is not None
    with pytest.raises(TransientPlatformError), budget.lease():
        pass
    assert clock.sleeps  # it did wait for a slot first


def test_the_lease_is_released_when_the_call_fails(redis_client: Redis) -> None:
    budget = StoreBudget(redis_client, STORE_HASH, max_concurrency=1)
    with pytest.raises(RuntimeError), budget.lease():
        assert redis_client.zcard(leases_key(STORE_HASH)) == 1
        raise RuntimeError("boom")
    assert redis_client.zcard(leases_key(STORE_HASH)) == 0


def _take_lease_and_die(redis_url: str) -> None:
    budget = StoreBudget(Redis.from_url(redis_url), STORE_HASH, max_concurrency=1, lease_seconds=0.3)
    assert budget.try_acquire() is not None
    os._exit(0)  # a crash: no finally, no release


def test_the_lease_of_a_crashed_holder_expires(redis_client: Redis, redis_url: str) -> None:
    holder = multiprocessing.get_context("spawn").Process(target=_take_lease_and_die, args=(redis_url,))
    holder.start()
    holder.join(timeout=60)
    assert holder.exitcode == 0
    assert redis_client.zcard(leases_key(STORE_HASH)) == 1  # still held: nobody released it

    with StoreBudget(redis_client, STORE_HASH, max_concurrency=1, max_wait=30).lease():
        members = redis_client.zcard(leases_key(STORE_HASH))
    assert members == 1  # the dead lease was dropped, ours taken


# ------------------------------------------------------------------------------------------- wiring


def order_event() -> StoredEvent:
    body = json.dumps({"scope": "store/order/created", "producer": f"stores/{STORE_HASH}", "data": {"id": 218}})
    return StoredEvent(1, "bigcommerce", STORE_HASH, "store/order/created", body.encode(), None, None)


def test_a_client_with_a_budget_spends_and_records_the_shared_quota(fake: FakeBigCommerce, redis_client: Redis) -> None:
    fake.enable_quota(10, 30000)
    client = BigCommerceClient(fake.url, STORE_HASH, BC_TOKEN, budget=StoreBudget(redis_client, STORE_HASH))
    try:
        for _ in range(3):
            client.get_order_summary("218")
    finally:
        client.close()
    assert record(redis_client)["tokens"] == 7  # the platform's count after the first; ours after that
    assert record(redis_client)["quota"] == 10
    assert redis_client.zcard(leases_key(STORE_HASH)) == 0


def test_a_client_refuses_another_stores_budget(redis_client: Redis) -> None:
    with pytest.raises(ValueError):
        BigCommerceClient("http://127.0.0.1:9", STORE_HASH, BC_TOKEN, budget=StoreBudget(redis_client, "otherstore"))


def test_client_factory_and_adapter_use_the_budget_when_given_redis(fake: FakeBigCommerce, redis_client: Redis) -> None:
    settings = Settings(bigcommerce_api_url=fake.url, bigcommerce_max_concurrency=2)
    runtime = cast(Runtime, SimpleNamespace(settings=settings, redis=redis_client))
    client = store_client(runtime, ShopAccess(1, STORE_HASH, BC_TOKEN))
    client.get_order_summary("218")
    client.close()
    assert record(redis_client)["gen"] == 1

    redis_client.flushall()
    adapter = BigCommerceAdapter(fake.url, budget_for=budget_factory(redis_client, max_concurrency=2))
    try:
        adapter.translate(order_event(), ShopAccess(1, STORE_HASH, BC_TOKEN))
    finally:
        adapter.close()
    assert record(redis_client)["gen"] == 1


def test_max_concurrency_comes_from_the_environment() -> None:
    env = {"SECRET_KEY": "k", "BIGCOMMERCE_MAX_CONCURRENCY": "2"}
    assert Settings.from_env(env).bigcommerce_max_concurrency == 2
    assert Settings.from_env({"SECRET_KEY": "k"}).bigcommerce_max_concurrency == 3


def test_event_processing_shares_the_budget(fake: FakeBigCommerce, make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(bigcommerce_api_url=fake.url)
    adapter = default_adapters(runtime)["bigcommerce"]
    try:
        adapter.translate(order_event(), ShopAccess(1, STORE_HASH, BC_TOKEN))
        assert runtime.redis.exists(quota_key(STORE_HASH))
    finally:
        adapter.close()


# ---------------------------------------------------------------------------------------- processes

PROCESSES = 4
QUOTA, WINDOW_MS = 10, 400

_start: Any = None  # a worker's copy of the pool's barrier


def _join_pool(start: Any) -> None:
    global _start
    _start = start


def _caller(task: tuple[str, str | None, int, int]) -> int:
    """One worker process: ``calls`` calls to the store; returns how many were refused for the quota."""
    api_url, redis_url, calls, max_concurrency = task
    redis_client = Redis.from_url(redis_url) if redis_url else None
    budget = StoreBudget(redis_client, STORE_HASH, max_concurrency=max_concurrency) if redis_client else None
    client = BigCommerceClient(api_url, STORE_HASH, BC_TOKEN, budget=budget)
    # All processes start together, as a burst of webhooks would. A worker blocked here holds its task,
    # so the PROCESSES tasks of one run land on PROCESSES different processes.
    _start.wait(timeout=60)
    refused = 0
    try:
        for _ in range(calls):
            try:
                client.request("GET", ORDER_PATH)
            except TransientPlatformError as exc:
                refused += 1
                time.sleep(exc.retry_after or 0.05)
    finally:
        client.close()
        if redis_client is not None:
            redis_client.close()
    return refused


@pytest.fixture(scope="module")
def workers() -> Iterator[Pool]:
    """Spawned worker processes, started once for the module (each start imports the app: slow)."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(PROCESSES, initializer=_join_pool, initargs=(ctx.Barrier(PROCESSES),)) as pool:
        yield pool


def run_burst(
    workers: Pool, fake: FakeBigCommerce, redis_url: str | None, *, calls: int, max_concurrency: int = 3
) -> list[int]:
    """Every worker process makes ``calls`` calls at once; what each had refused."""
    task = (fake.url, redis_url, calls, max_concurrency)
    return workers.map_async(_caller, [task] * PROCESSES, chunksize=1).get(timeout=60)


def test_processes_sharing_the_budget_never_get_a_429(workers: Pool, fake: FakeBigCommerce, redis_url: str) -> None:
    fake.enable_quota(QUOTA, WINDOW_MS)
    refused = run_burst(workers, fake, redis_url, calls=8)
    assert fake.rate_limited(STORE_HASH) == 0
    assert refused == [0] * PROCESSES
    assert len(fake.requests_to(ORDER_PATH)) == 8 * PROCESSES


def test_processes_pacing_themselves_alone_get_429s(workers: Pool, fake: FakeBigCommerce) -> None:
    # The same burst without the shared budget: each process sees only its own responses.
    fake.enable_quota(QUOTA, WINDOW_MS)
    refused = run_burst(workers, fake, None, calls=8)
    assert fake.rate_limited(STORE_HASH) > 0
    assert sum(refused) == fake.rate_limited(STORE_HASH)


def test_calls_in_flight_for_a_store_never_exceed_the_cap_across_processes(
    workers: Pool, fake: FakeBigCommerce, redis_url: str
) -> None:
    fake.request_delay = 0.05
    run_burst(workers, fake, redis_url, calls=4, max_concurrency=2)
    assert fake.max_in_flight(STORE_HASH) == 2


def test_without_the_cap_the_same_processes_overlap_more(workers: Pool, fake: FakeBigCommerce) -> None:
    fake.request_delay = 0.05
    run_burst(workers, fake, None, calls=4)
    assert fake.max_in_flight(STORE_HASH) > 2
