"""Fixtures for the platform adapter tests: one fake BigCommerce server for the session, reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from integration.platforms.bigcommerce.adapter import BigCommerceAdapter
from integration.platforms.bigcommerce.client import BigCommerceClient
from integration.platforms.interfaces import ShopAccess
from tests.fakes.bigcommerce_api import FakeBigCommerce

STORE_HASH = "abc123"
TOKEN = "tok-SECRET-8f3a1c9e"


class SleepRecorder:
    """Stands in for time.sleep and time.monotonic: records waits, never waits."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.now = 1000.0

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def fake_bc(bigcommerce_server: FakeBigCommerce) -> FakeBigCommerce:
    bigcommerce_server.reset()
    bigcommerce_server.add_store(STORE_HASH, TOKEN)
    return bigcommerce_server


@pytest.fixture
def bc_clock() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def bc_http() -> Iterator[requests.Session]:
    session = requests.Session()
    yield session
    session.close()


@pytest.fixture
def bc_client(fake_bc: FakeBigCommerce, bc_http: requests.Session, bc_clock: SleepRecorder) -> BigCommerceClient:
    return BigCommerceClient(
        fake_bc.url, STORE_HASH, TOKEN, session=bc_http, sleep=bc_clock.sleep, monotonic=bc_clock.monotonic
    )


@pytest.fixture
def bc_adapter(fake_bc: FakeBigCommerce, bc_http: requests.Session, bc_clock: SleepRecorder) -> BigCommerceAdapter:
    def new_client(store_hash: str, token: str) -> BigCommerceClient:
        return BigCommerceClient(
            fake_bc.url,
            store_hash,
            token,
            session=bc_http,
            sleep=bc_clock.sleep,
            monotonic=bc_clock.monotonic,
        )

    return BigCommerceAdapter(fake_bc.url, client_factory=new_client)


@pytest.fixture
def bc_shop() -> ShopAccess:
    return ShopAccess(shop_id=7, identifier=STORE_HASH, access_token=TOKEN)
