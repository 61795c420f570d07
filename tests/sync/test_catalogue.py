"""Product types for "the types bought most": fetched once from each platform's catalogue over real HTTP
(the fakes), stored in ``products``, summed per customer in the profile."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask

from integration.core.queues import BULK
from integration.core.runtime import Runtime
from integration.customers.models import Product
from integration.customers.upserts import apply_change
from integration.customers.views import find_customer, find_shop, profile
from integration.events.changes import CustomerChange, OrderChange, OrderLineData, OrderStatus
from integration.platforms.interfaces import TransientPlatformError
from integration.sync.catalogue import enqueue_product_type_jobs, fetch_product_types, missing_product_ids
from integration.sync.tasks import PRODUCT_TYPES
from tests.fakes.catalogue import CatalogueBigCommerce, CatalogueShopify
from tests.helpers import (
    BC_TOKEN,
    SHOP_DOMAIN,
    SHOPIFY_TOKEN,
    STORE_HASH,
    RuntimeFactory,
    add_shop,
    drain,
    invoke,
    update_shop,
)

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def rt(make_runtime: RuntimeFactory, shopify: CatalogueShopify, fake_bc: CatalogueBigCommerce) -> Runtime:
    return make_runtime(shopify_admin_url=shopify.admin_url_template, bigcommerce_api_url=fake_bc.url)


def line(product_id: str | None, title: str, quantity: int) -> OrderLineData:
    return OrderLineData(title=title, quantity=quantity, price=Decimal("10"), product_id=product_id)


def buy(runtime: Runtime, shop_id: int, order_id: str, *lines: OrderLineData, email: str = "ann@example.com") -> None:
    change = OrderChange(
        platform_id=order_id,
        updated_at=T0,
        status=OrderStatus.PAID,
        name=f"#{order_id}",
        email=email,
        currency="USD",
        total_price=Decimal("100"),
        placed_at=T0,
        customer=CustomerChange(platform_id="77", updated_at=T0, email=email, first_name="Ann"),
        lines=lines,
    )
    with runtime.session() as session:
        apply_change(session, shop_id, change)


def shown(runtime: Runtime, shop: str, who: str = "ann@example.com") -> dict[str, object]:
    with runtime.session() as session:
        found_shop = find_shop(session, shop)
        assert found_shop is not None
        customer = find_customer(session, found_shop, who)
        assert customer is not None
        return profile(session, customer)


def products(runtime: Runtime) -> dict[str, tuple[str | None, str | None, bool]]:
    with runtime.session() as session:
        rows = session.scalars(sa.select(Product).order_by(Product.platform_product_id))
        return {p.platform_product_id: (p.title, p.product_type, p.fetched_at is not None) for p in rows}


def shopify_shop(runtime: Runtime, shopify: CatalogueShopify) -> int:
    """Ann bought mugs and cups (Drinkware), tea, a product without a type, one the merchant has since
    deleted, and a custom line without a product id."""
    shop = add_shop(runtime, token=SHOPIFY_TOKEN)
    shopify.add_product(SHOP_DOMAIN, 101, "Mug", "Drinkware")
    shopify.add_product(SHOP_DOMAIN, 102, "Green tea", "Tea")
    shopify.add_product(SHOP_DOMAIN, 103, "Cup", "Drinkware")
    shopify.add_product(SHOP_DOMAIN, 104, "Mystery box", "")  # no type
    buy(runtime, shop.id, "1", line("101", "Mug", 3), line("102", "Green tea", 5), line("104", "Mystery box", 9))
    buy(runtime, shop.id, "2", line("103", "Cup", 4), line("105", "Old poster", 8), line(None, "Gift wrap", 20))
    return shop.id


def test_shopify_types_are_fetched_once_and_shown_most_bought_first(
    rt: Runtime, shopify: CatalogueShopify, app: Flask
) -> None:
    shop_id = shopify_shop(rt, shopify)
    assert shown(rt, SHOP_DOMAIN)["product_types"] == []  # nothing fetched yet

    report = fetch_product_types(rt, shop_id)

    assert (report.fetched, report.typed, report.gone) == (5, 3, 1)
    [call] = shopify.nodes_requests()
    assert call.body["variables"]["ids"] == [f"gid://shopify/Product/{i}" for i in (101, 102, 103, 104, 105)]
    assert products(rt) == {
        "101": ("Mug", "Drinkware", True),
        "102": ("Green tea", "Tea", True),
        "103": ("Cup", "Drinkware", True),
        "104": ("Mystery box", None, True),  # fetched, no type: never asked for again
        "105": (None, None, True),  # deleted at Shopify: the same
    }
    data = shown(rt, SHOP_DOMAIN)
    assert data["product_types"] == [
        {"product_type": "Drinkware", "quantity": 7},
        {"product_type": "Tea", "quantity": 5},
    ]
    assert data["products"] == [
        {"title": "Gift wrap", "quantity": 20},
        {"title": "Mystery box", "quantity": 9},
        {"title": "Old poster", "quantity": 8},
        {"title": "Green tea", "quantity": 5},
        {"title": "Cup", "quantity": 4},
    ]

    # The second run finds nothing missing and calls nobody.
    calls = len(shopify.requests)
    again = fetch_product_types(rt, shop_id)
    assert (again.fetched, len(shopify.requests)) == (0, calls)

    # The API and the CLI carry the same lists.
    from integration.shops.models import StaffRole
    from tests.staff_fixtures import add_staff, sign_in

    http = app.test_client()
    sign_in(http, add_staff(rt, shop_id, "1", role=StaffRole.REP))
    api = http.get(f"/api/shops/{SHOP_DOMAIN}/customers/77").get_json()
    assert api["product_types"] == data["product_types"]
    assert api["products"] == data["products"]
    text = invoke(app, "customers", "show", SHOP_DOMAIN, "ann@example.com").output
    assert "types bought most: Drinkware x7, Tea x5" in text


def test_only_new_products_are_fetched_later(rt: Runtime, shopify: CatalogueShopify) -> None:
    shop_id = shopify_shop(rt, shopify)
    fetch_product_types(rt, shop_id)
    shopify.add_product(SHOP_DOMAIN, 106, "Teapot", "Drinkware")
    buy(rt, shop_id, "3", line("106", "Teapot", 1), line("101", "Mug", 1))

    with rt.session() as session:
        assert missing_product_ids(session, shop_id) == ["106"]
    fetch_product_types(rt, shop_id)

    assert shopify.nodes_requests()[-1].body["variables"]["ids"] == ["gid://shopify/Product/106"]
    assert shown(rt, SHOP_DOMAIN)["product_types"][0] == {"product_type": "Drinkware", "quantity": 9}


def test_a_transient_shopify_failure_keeps_finished_batches_and_the_next_run_completes(
    rt: Runtime, shopify: CatalogueShopify
) -> None:
    shop_id = shopify_shop(rt, shopify)
    shopify.fail_nodes_after = 1  # the first batch is answered, the second is rate limited

    with pytest.raises(TransientPlatformError):
        fetch_product_types(rt, shop_id, batch_size=2)

    assert set(products(rt)) == {"101", "102"}  # the first batch, whole; nothing of the second
    shopify.fail_nodes_after = None
    report = fetch_product_types(rt, shop_id, batch_size=2)
    assert report.fetched == 3
    asked = [[gid.rsplit("/", 1)[1] for gid in r.body["variables"]["ids"]] for r in shopify.nodes_requests()]
    # 101 and 102 were never asked for again; the refused batch was.
    assert asked == [["101", "102"], ["103", "104"], ["103", "104"], ["105"]]
    assert set(products(rt)) == {"101", "102", "103", "104", "105"}
    assert shown(rt, SHOP_DOMAIN)["product_types"][0] == {"product_type": "Drinkware", "quantity": 7}


def bigcommerce_shop(runtime: Runtime, fake_bc: CatalogueBigCommerce) -> int:
    shop = add_shop(runtime, "bigcommerce", STORE_HASH, BC_TOKEN)
    fake_bc.add_category(STORE_HASH, 21, "Kitchen")
    fake_bc.add_category(STORE_HASH, 22, "Garden")
    fake_bc.add_category(STORE_HASH, 23, "Sale")
    # BigCommerce's "type" is the first category: the knife is Kitchen even though it is on Sale too.
    fake_bc.add_product(STORE_HASH, 201, "Knife", [21, 23])
    fake_bc.add_product(STORE_HASH, 202, "Spade", [22])
    fake_bc.add_product(STORE_HASH, 203, "Board", [21])
    fake_bc.add_product(STORE_HASH, 204, "Gift card", [])  # in no category: no type
    buy(runtime, shop.id, "250", line("201", "Knife", 2), line("202", "Spade", 3), line("204", "Gift card", 1))
    buy(runtime, shop.id, "251", line("203", "Board", 2), line("205", "Discontinued", 4))  # 205: deleted
    return shop.id


def test_bigcommerce_types_are_first_category_names(rt: Runtime, fake_bc: CatalogueBigCommerce) -> None:
    shop_id = bigcommerce_shop(rt, fake_bc)

    report = fetch_product_types(rt, shop_id)

    assert (report.fetched, report.typed, report.gone) == (5, 3, 1)
    [listing] = fake_bc.requests_to(r"/v3/catalog/products$")
    assert listing.query["id:in"] == "201,202,203,204,205"
    assert listing.query["include_fields"] == "name,categories"
    [names] = fake_bc.requests_to(r"/v3/catalog/trees/categories$")
    assert names.query["category_id:in"] == "21,22"  # only first categories are looked up
    assert products(rt) == {
        "201": ("Knife", "Kitchen", True),
        "202": ("Spade", "Garden", True),
        "203": ("Board", "Kitchen", True),
        "204": ("Gift card", None, True),
        "205": (None, None, True),
    }
    assert shown(rt, STORE_HASH)["product_types"] == [
        {"product_type": "Kitchen", "quantity": 4},
        {"product_type": "Garden", "quantity": 3},
    ]

    calls = len(fake_bc.requests)
    assert fetch_product_types(rt, shop_id).fetched == 0
    assert len(fake_bc.requests) == calls


def test_a_failure_between_the_two_bigcommerce_calls_writes_nothing(rt: Runtime, fake_bc: CatalogueBigCommerce) -> None:
    shop_id = bigcommerce_shop(rt, fake_bc)
    fake_bc.queue_response("GET", r"/v3/catalog/trees/categories$", 503)

    with pytest.raises(TransientPlatformError):
        fetch_product_types(rt, shop_id)

    assert products(rt) == {}  # the products answer alone is not half a batch to keep
    assert fetch_product_types(rt, shop_id).fetched == 5
    assert shown(rt, STORE_HASH)["product_types"][0] == {"product_type": "Kitchen", "quantity": 4}


def test_the_cron_fans_out_one_job_per_active_shop_and_the_jobs_fetch(
    rt: Runtime, fake_bc: CatalogueBigCommerce
) -> None:
    shop_id = bigcommerce_shop(rt, fake_bc)

    assert enqueue_product_type_jobs(rt) == 1
    assert rt.queue(BULK).job_ids == [PRODUCT_TYPES.job_id(shop_id)]
    assert enqueue_product_type_jobs(rt) == 0  # still waiting: not enqueued twice

    drain(rt)

    assert shown(rt, STORE_HASH)["product_types"][0] == {"product_type": "Kitchen", "quantity": 4}
    assert enqueue_product_type_jobs(rt) == 1  # finished jobs are replaced on the next tick


def test_a_shop_that_is_not_active_is_skipped(rt: Runtime, shopify: CatalogueShopify) -> None:
    from integration.shops.models import ShopState

    shop_id = shopify_shop(rt, shopify)
    update_shop(rt, shop_id, state=ShopState.UNINSTALLED)

    assert fetch_product_types(rt, shop_id).skipped
    assert enqueue_product_type_jobs(rt) == 0
    assert shopify.nodes_requests() == []
