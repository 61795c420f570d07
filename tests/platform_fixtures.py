"""The fake platforms (one real-HTTP server each for the session, reset per test), BigCommerce clients on
them, and a fake clock for the code under test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from integration.platforms.bigcommerce.adapter import BigCommerceAdapter
from integration.platforms.bigcommerce.client import BigCommerceClient
from integration.platforms.interfaces import ShopAccess
from tests.fakes.bigcommerce_attributes import Attributes, install
from tests.fakes.catalogue import CatalogueBigCommerce, CatalogueShopify
from tests.helpers import BC_TOKEN, SHOP_DOMAIN, SHOPIFY_TOKEN, STORE_HASH, FakeClock


class SuiteBigCommerce(CatalogueBigCommerce):
    """The suite's fake BigCommerce: the API, the catalogue endpoints and the customer attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.attributes: Attributes = install(self)  # before the server has served anything

    def reset(self) -> None:
        super().reset()
        if hasattr(self, "attributes"):  # FakeBigCommerce.__init__ resets before they are installed
            self.attributes.reset()


@pytest.fixture(scope="session")
def shopify_server() -> Iterator[CatalogueShopify]:
    """One fake Shopify Admin API (real HTTP) for the session; tests reset it (``fake_shopify``)."""
    with CatalogueShopify() as fake:
        yield fake


@pytest.fixture
def fake_shopify(shopify_server: CatalogueShopify) -> CatalogueShopify:
    """The session's fake Shopify, emptied: no shops, default bucket and costs, the real clock."""
    shopify_server.reset()
    return shopify_server


@pytest.fixture
def shopify(fake_shopify: CatalogueShopify) -> CatalogueShopify:
    """The session's fake Shopify, emptied but for one shop, SHOP_DOMAIN, whose token is SHOPIFY_TOKEN
    (``add_shop(runtime)`` registers that shop with that token)."""
    fake_shopify.add_shop(SHOP_DOMAIN, SHOPIFY_TOKEN)
    return fake_shopify


@pytest.fixture(scope="session")
def bigcommerce_server() -> Iterator[SuiteBigCommerce]:
    """One fake BigCommerce API (real HTTP) for the session; tests reset it (``fake_bc``)."""
    with SuiteBigCommerce() as fake:
        yield fake


@pytest.fixture
def fake_bc(bigcommerce_server: SuiteBigCommerce) -> SuiteBigCommerce:
    """The session's fake BigCommerce, emptied but for one store, STORE_HASH, whose token is BC_TOKEN."""
    bigcommerce_server.reset()
    bigcommerce_server.add_store(STORE_HASH, BC_TOKEN)
    return bigcommerce_server


@pytest.fixture
def clock() -> FakeClock:
    """time.sleep and time.monotonic for the code under test: waits are counted, not spent."""
    return FakeClock()


@pytest.fixture
def bc_http() -> Iterator[requests.Session]:
    session = requests.Session()
    yield session
    session.close()


@pytest.fixture
def bc_client(fake_bc: SuiteBigCommerce, bc_http: requests.Session, clock: FakeClock) -> BigCommerceClient:
    return BigCommerceClient(
        fake_bc.url, STORE_HASH, BC_TOKEN, session=bc_http, sleep=clock.sleep, monotonic=clock.monotonic
    )


@pytest.fixture
def bc_adapter(fake_bc: SuiteBigCommerce, bc_http: requests.Session, clock: FakeClock) -> BigCommerceAdapter:
    def new_client(store_hash: str, token: str) -> BigCommerceClient:
        return BigCommerceClient(
            fake_bc.url,
            store_hash,
            token,
            session=bc_http,
            sleep=clock.sleep,
            monotonic=clock.monotonic,
        )

    return BigCommerceAdapter(fake_bc.url, client_factory=new_client)


@pytest.fixture
def bc_shop() -> ShopAccess:
    return ShopAccess(shop_id=7, identifier=STORE_HASH, access_token=BC_TOKEN)
