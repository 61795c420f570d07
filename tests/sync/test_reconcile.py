"""Reconciliation: what no webhook announced is found through the platform's API and processed like one.

Both platforms' fakes answer over real HTTP; processing goes through the real relay and an RQ worker
(``drain``), so a reconciled order ends up in the same tables a webhook would have put it in.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from integration.core.config import Settings
from integration.core.runtime import Runtime
from integration.customers.models import Customer, Fulfillment, Order, OrderLine
from integration.events import processing
from integration.events.intake import EventIntake
from integration.events.models import WebhookEvent
from integration.events.processing import EventProcessor, Outcome
from integration.platforms.bigcommerce import change_feed as bigcommerce_change_feed
from integration.platforms.interfaces import ChangeFeed, ShopAccess, TransientPlatformError
from integration.platforms.shopify.change_feed import ShopifyFeed
from integration.platforms.shopify.client import ShopifyGraphQL
from integration.sync.models import SyncCursor
from integration.sync.reconcile import OVERLAP, enqueue_reconciliations, reconcile_shop
from tests.fakes.bigcommerce_api import (
    FakeBigCommerce,
    sample_customer,
    sample_order,
    sample_products,
    sample_shipping_addresses,
)
from tests.fakes.shopify_admin import FakeShopify
from tests.helpers import (
    BC_TOKEN,
    STORE_HASH,
    add_shop,
    bigcommerce_body,
    drain,
    invoke,
    store_bigcommerce_event,
    wait_until,
)

SHOP = "reconcile-shop.myshopify.com"
TOKEN = "shpat_reconcile"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def settings(settings: Settings, fake_shopify: FakeShopify, fake_bc: FakeBigCommerce) -> Settings:
    return settings.replace(shopify_admin_url=fake_shopify.admin_url_template, bigcommerce_api_url=fake_bc.url)


def customer_node(customer_id: str, updated_at: dt.datetime, **fields: Any) -> dict[str, Any]:
    node: dict[str, Any] = {
        "legacyResourceId": customer_id,
        "email": "ada@example.com",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "phone": None,
        "locale": "en-GB",
        "tags": ["wholesale", "newsletter"],
        "updatedAt": stamp(updated_at),
        "defaultAddress": {
            "city": "Toronto",
            "province": "Ontario",
            "provinceCode": "ON",
            "countryCodeV2": "CA",
            "zip": "M5V 2T6",
        },
        "emailMarketingConsent": {"marketingState": "SUBSCRIBED", "consentUpdatedAt": stamp(updated_at)},
        "smsMarketingConsent": None,
    }
    node.update(fields)
    return node


def order_fields(customer_id: str, updated_at: dt.datetime, **fields: Any) -> dict[str, Any]:
    """An order as ORDER_QUERY reads it (the fake stores these fields and answers them as given)."""
    order: dict[str, Any] = {
        "name": "#1001",
        "email": "ada@example.com",
        "phone": None,
        "createdAt": stamp(updated_at - dt.timedelta(hours=1)),
        "processedAt": stamp(updated_at - dt.timedelta(hours=1)),
        "cancelledAt": None,
        "displayFinancialStatus": "PAID",
        "displayFulfillmentStatus": "FULFILLED",
        "currencyCode": "CAD",
        "customerLocale": "en-GB",
        "totalPriceSet": {"shopMoney": {"amount": "42.50", "currencyCode": "CAD"}},
        "customer": customer_node(customer_id, updated_at - dt.timedelta(hours=2)),
        "shippingAddress": {
            "city": "Toronto",
            "province": "Ontario",
            "provinceCode": "ON",
            "countryCodeV2": "CA",
            "zip": "M5V 2T6",
        },
        "lineItems": {
            "nodes": [
                {
                    "id": "gid://shopify/LineItem/9001",
                    "title": "Tea tin",
                    "sku": "TEA-1",
                    "quantity": 2,
                    "product": {"legacyResourceId": "7001"},
                    "variant": {"legacyResourceId": "8001"},
                    "originalUnitPriceSet": {"shopMoney": {"amount": "21.25"}},
                }
            ]
        },
        "fulfillments": [
            {
                "legacyResourceId": "6001",
                "status": "SUCCESS",
                "displayStatus": "IN_TRANSIT",
                "createdAt": stamp(updated_at - dt.timedelta(minutes=30)),
                "updatedAt": stamp(updated_at - dt.timedelta(minutes=30)),
                "deliveredAt": None,
                "trackingInfo": [{"company": "Canada Post", "number": "CP123", "url": None}],
            }
        ],
    }
    order.update(fields)
    return order


@pytest.fixture
def shopify_shop(runtime: Runtime, fake_shopify: FakeShopify) -> int:
    fake_shopify.add_shop(SHOP, TOKEN)
    return add_shop(runtime, "shopify", SHOP, TOKEN).id


def events(runtime: Runtime) -> list[WebhookEvent]:
    with runtime.session() as session:
        rows = list(session.scalars(sa.select(WebhookEvent).order_by(WebhookEvent.id)))
        session.expunge_all()
    return rows


def cursor(runtime: Runtime, shop_id: int, resource: str) -> SyncCursor:
    with runtime.session() as session:
        row = session.scalars(
            sa.select(SyncCursor).where(SyncCursor.shop_id == shop_id, SyncCursor.resource == resource)
        ).one()
        session.expunge(row)
    return row


# --------------------------------------------------------------------------------------------- Shopify


def test_an_order_no_webhook_announced_is_found_and_processed(
    runtime: Runtime, fake_shopify: FakeShopify, shopify_shop: int
) -> None:
    updated = NOW - dt.timedelta(hours=3)
    fake_shopify.add_order(SHOP, 5001, stamp(updated), **order_fields("4001", updated))

    report = reconcile_shop(runtime, shopify_shop)
    assert report.as_dict()["resources"] == {
        "orders": {"found": 1, "stored": 1},
        "customers": {"found": 0, "stored": 0},
    }
    (event,) = events(runtime)
    assert (event.topic, json.loads(event.body)) == ("reconcile/order", {"id": 5001})

    drain(runtime)

    with runtime.session() as session:
        order = session.scalars(sa.select(Order).where(Order.platform_order_id == "5001")).one()
        assert (order.status, order.total_price, order.currency, order.name) == ("fulfilled", 42.5, "CAD", "#1001")
        lines = session.scalars(sa.select(OrderLine).where(OrderLine.order_id == order.id)).all()
        assert [(line.product_id, line.variant_id, line.quantity, line.price) for line in lines] == [
            ("7001", "8001", 2, 21.25)
        ]
        customer = session.get(Customer, order.customer_id)
        assert customer is not None
        assert (customer.platform_customer_id, customer.email, customer.time_zone) == (
            "4001",
            "ada@example.com",
            "America/Toronto",
        )
        assert json.loads(customer.tags or "null") == ["newsletter", "wholesale"]
        fulfillment = session.scalars(sa.select(Fulfillment).where(Fulfillment.platform_order_id == "5001")).one()
        assert (fulfillment.status, fulfillment.tracking_number) == ("in_transit", "CP123")
    assert events(runtime)[0].status == "done"


def test_running_twice_changes_nothing(runtime: Runtime, fake_shopify: FakeShopify, shopify_shop: int) -> None:
    updated = NOW - dt.timedelta(hours=3)
    fake_shopify.add_order(SHOP, 5001, stamp(updated), **order_fields("4001", updated))
    fake_shopify.add_customer(SHOP, 4001, **customer_node("4001", updated - dt.timedelta(hours=2)))

    assert reconcile_shop(runtime, shopify_shop).stored == 2
    # Not processed yet: the same versions are already stored as events.
    assert reconcile_shop(runtime, shopify_shop).stored == 0
    drain(runtime)
    # Processed: we hold these versions, so nothing is even stored.
    assert reconcile_shop(runtime, shopify_shop).stored == 0
    assert len(events(runtime)) == 2
    with runtime.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Order)) == 1
        customer = session.scalars(sa.select(Customer)).one()
        # Read back over GraphQL: what 2025-01 customer webhooks no longer carry.
        assert customer.email_consent == "subscribed"
        assert json.loads(customer.tags or "null") == ["newsletter", "wholesale"]


def test_a_newer_version_is_picked_up_and_wins(runtime: Runtime, fake_shopify: FakeShopify, shopify_shop: int) -> None:
    updated = NOW - dt.timedelta(hours=3)
    fake_shopify.add_order(SHOP, 5001, stamp(updated), **order_fields("4001", updated))
    reconcile_shop(runtime, shopify_shop)
    drain(runtime)

    # Changed after the first run, by the clock now: NOW is read when the module loads, and a slow suite
    # had reached this test when the cursor was already past NOW - 1 minute (the change went unseen).
    later = dt.datetime.now(dt.UTC).replace(microsecond=0)
    cancelled = order_fields("4001", later, cancelledAt=stamp(later), displayFinancialStatus="REFUNDED")
    fake_shopify.add_order(SHOP, 5001, stamp(later), **cancelled)
    assert reconcile_shop(runtime, shopify_shop).stored == 1
    drain(runtime)
    with runtime.session() as session:
        order = session.scalars(sa.select(Order).where(Order.platform_order_id == "5001")).one()
        assert order.status == "cancelled"


def test_an_order_held_at_the_same_version_costs_no_event(
    runtime: Runtime, fake_shopify: FakeShopify, shopify_shop: int
) -> None:
    updated = NOW - dt.timedelta(hours=3)
    fake_shopify.add_order(SHOP, 5001, stamp(updated), **order_fields("4001", updated))
    reconcile_shop(runtime, shopify_shop)
    drain(runtime)
    with runtime.session() as session:
        session.execute(sa.delete(WebhookEvent))  # as if it had come by webhook long ago
    assert reconcile_shop(runtime, shopify_shop).stored == 0
    assert events(runtime) == []


def test_the_cursor_moves_after_success_and_the_next_run_reads_from_it(
    runtime: Runtime, fake_shopify: FakeShopify, shopify_shop: int
) -> None:
    first = reconcile_shop(runtime, shopify_shop)
    assert first.resources[0].since < NOW - dt.timedelta(days=29)  # a new shop starts with the backfill
    moved = cursor(runtime, shopify_shop, "orders")
    assert moved.cursor_at is not None and moved.cursor_at >= NOW
    assert moved.last_error is None

    second = reconcile_shop(runtime, shopify_shop)
    assert second.resources[0].since == moved.cursor_at - OVERLAP
    # The query sent to Shopify says so too.
    queries = [r.body["variables"]["query"] for r in fake_shopify.graphql_requests("orders")]
    assert queries[-1] == f"updated_at:>'{stamp(moved.cursor_at - OVERLAP)}'"


def quick_feed(runtime: Runtime, platform: str, access: ShopAccess) -> ChangeFeed:
    """The production feed, with the client's backoff sleeps skipped."""
    client = ShopifyGraphQL(
        runtime.settings.shopify_admin_url,
        access.identifier,
        access.access_token or "",
        runtime.settings.shopify_api_version,
        sleep=lambda _seconds: None,
    )
    return ShopifyFeed(client)


def test_a_platform_outage_leaves_the_cursor_and_says_why(
    runtime: Runtime, fake_shopify: FakeShopify, shopify_shop: int
) -> None:
    updated = NOW - dt.timedelta(hours=3)
    fake_shopify.add_order(SHOP, 5001, stamp(updated), **order_fields("4001", updated))
    reconcile_shop(runtime, shopify_shop, feed_factory=quick_feed)
    before = cursor(runtime, shopify_shop, "orders").cursor_at

    for _ in range(5):
        fake_shopify.queue_response(503, {"errors": "unavailable"})
    with pytest.raises(TransientPlatformError):
        reconcile_shop(runtime, shopify_shop, feed_factory=quick_feed)
    failed = cursor(runtime, shopify_shop, "orders")
    assert failed.cursor_at == before
    assert failed.last_error is not None and "503" in failed.last_error

    reconcile_shop(runtime, shopify_shop, feed_factory=quick_feed)
    recovered = cursor(runtime, shopify_shop, "orders")
    assert recovered.last_error is None
    assert recovered.cursor_at is not None and before is not None and recovered.cursor_at > before


def test_pages_are_followed_to_the_end(runtime: Runtime, fake_shopify: FakeShopify, shopify_shop: int) -> None:
    for n in range(260):  # more than one page of 250
        updated = NOW - dt.timedelta(hours=5, minutes=n)
        fake_shopify.add_customer(SHOP, 10_000 + n, **customer_node(str(10_000 + n), updated, email=f"c{n}@ex.com"))
    report = reconcile_shop(runtime, shopify_shop)
    assert report.as_dict()["resources"]["customers"] == {"found": 260, "stored": 260}  # type: ignore[index]
    assert len(fake_shopify.graphql_requests("customers")) == 2


def test_an_uninstalled_shop_is_skipped(runtime: Runtime, shopify_shop: int) -> None:
    with runtime.session() as session:
        session.execute(sa.text("UPDATE shops SET state = 'uninstalled' WHERE id = :id"), {"id": shopify_shop})
    assert reconcile_shop(runtime, shopify_shop).skipped == "shop is not installed"


# ------------------------------------------------------------------------------------------ BigCommerce


def rfc2822(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def test_bigcommerce_orders_and_customers_no_webhook_announced(runtime: Runtime, fake_bc: FakeBigCommerce) -> None:
    shop_id = add_shop(runtime, "bigcommerce", STORE_HASH, BC_TOKEN).id
    recent = NOW - dt.timedelta(hours=2)
    fake_bc.add_order(STORE_HASH, sample_order(id=301, status_id=11, date_modified=rfc2822(recent)), sample_products())
    # Older than the backfill window: not listed.
    fake_bc.add_order(STORE_HASH, sample_order(id=302, date_modified=rfc2822(NOW - dt.timedelta(days=90))))
    fake_bc.add_customer(STORE_HASH, sample_customer(11, date_modified=stamp(recent)))

    report = reconcile_shop(runtime, shop_id)
    assert report.as_dict()["resources"] == {
        "orders": {"found": 1, "stored": 1},
        "customers": {"found": 1, "stored": 1},
    }
    assert sorted(e.topic for e in events(runtime)) == ["reconcile/customer", "reconcile/order"]
    listed = fake_bc.requests_to(r"/v2/orders$")[-1]
    assert listed.query["min_date_modified"] == stamp(report.resources[0].since)

    drain(runtime)
    with runtime.session() as session:
        order = session.scalars(sa.select(Order).where(Order.platform_order_id == "301")).one()
        assert order.status == "paid"
        assert session.scalars(sa.select(Customer).where(Customer.platform_customer_id == "11")).one()
    assert {e.status for e in events(runtime)} == {"done"}
    assert reconcile_shop(runtime, shop_id).stored == 0


QUOTA, WINDOW_MS = 6, 1200  # the store's quota: requests per window (we may spend QUOTA - 2 of them)
WORKERS = 3  # event workers at once (BIGCOMMERCE_MAX_CONCURRENCY, the default cap)


def test_a_backfill_and_event_workers_share_the_store_quota_and_never_get_a_429(
    runtime: Runtime, fake_bc: FakeBigCommerce, intake: EventIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backfill spends the store's quota through the Redis budget like event processing does. Were it
    pacing itself alone (as before the platform registry), workers starting after it had spent its share
    of a window would find a full quota on record and overrun the store's real one."""
    monkeypatch.setattr(bigcommerce_change_feed, "BC_PAGE_SIZE", 2)  # a backfill of many pages
    # The window here is 1.2 s: a worker waits for it rather than stepping aside (which only waits
    # longer than STEP_ASIDE_AFTER do; tests/events/test_batches.py covers that).
    monkeypatch.setattr(processing, "STEP_ASIDE_AFTER", 5.0)
    shop_id = add_shop(runtime, "bigcommerce", STORE_HASH, BC_TOKEN).id
    recent = NOW - dt.timedelta(hours=2)
    for order_id in range(301, 310):  # 5 pages of orders and 1 of customers: 6 calls, more than a window
        fake_bc.add_order(
            STORE_HASH,
            sample_order(id=order_id, date_modified=rfc2822(recent)),
            sample_products(),
            sample_shipping_addresses(),
        )
    webhooks = [
        store_bigcommerce_event(intake, bigcommerce_body(resource_id=order_id, event_hash=f"hash-{order_id}"))
        for order_id in (301, 302, 303)
    ]
    fake_bc.enable_quota(QUOTA, WINDOW_MS)
    fake_bc.request_delay = 0.1  # calls take a while, as they do live: the workers' first ones overlap

    # The webhooks' workers (threads standing in for worker processes: each its own processor, adapter and
    # client, sharing the database and Redis) start together once the backfill has spent its share of the
    # first window.
    start = threading.Barrier(WORKERS)
    outcomes: list[Outcome | BaseException] = []

    def worker(event_id: int) -> None:
        try:
            wait_until(lambda: len(fake_bc.requests_to(r"/v2/orders$")) >= QUOTA - 2, interval=0.005)
            start.wait(timeout=10)
            outcomes.append(EventProcessor(runtime).process(event_id))
        except BaseException as exc:  # reported below
            outcomes.append(exc)

    threads = [threading.Thread(target=worker, args=(event_id,)) for event_id in webhooks]
    for thread in threads:
        thread.start()
    try:
        report = reconcile_shop(runtime, shop_id)
    finally:
        for thread in threads:
            thread.join(timeout=60)

    assert fake_bc.rate_limited(STORE_HASH) == 0
    assert outcomes == [Outcome.DONE] * WORKERS
    assert report.as_dict()["resources"] == {
        "orders": {"found": 9, "stored": 9},
        "customers": {"found": 0, "stored": 0},
    }
    assert len(fake_bc.requests_to(r"/v2/orders$")) == 5  # nothing was asked twice
    assert len(fake_bc.requests_to(r"/v2/orders/\d+$")) == WORKERS


# ------------------------------------------------------------------------------------- scheduling, CLI


def test_one_job_per_installed_shop_and_never_two(runtime: Runtime, shopify_shop: int) -> None:
    other = add_shop(runtime, "bigcommerce", STORE_HASH, BC_TOKEN).id
    assert enqueue_reconciliations(runtime) == [shopify_shop, other]
    assert enqueue_reconciliations(runtime) == []  # both still queued


def test_the_cron_job_reconciles_every_shop(runtime: Runtime, fake_shopify: FakeShopify, shopify_shop: int) -> None:
    updated = NOW - dt.timedelta(hours=3)
    fake_shopify.add_order(SHOP, 5001, stamp(updated), **order_fields("4001", updated))
    runtime.queue("maintenance").enqueue("jobs.sync.reconcile_all")
    drain(runtime)  # the fan-out, then the shop's run, then (relayed by the next drain) its event
    drain(runtime)
    with runtime.session() as session:
        assert session.scalars(sa.select(Order.status).where(Order.platform_order_id == "5001")).one() == "fulfilled"


def test_backfill_command_shows_progress(app: Flask, fake_shopify: FakeShopify) -> None:
    from integration import runtime_of

    runtime = runtime_of(app)
    fake_shopify.add_shop(SHOP, TOKEN)
    add_shop(runtime, "shopify", SHOP, TOKEN)
    for n, days in enumerate((2, 20)):
        updated = NOW - dt.timedelta(days=days)
        fake_shopify.add_order(SHOP, 5001 + n, stamp(updated), **order_fields("4001", updated))

    result = invoke(app, "shops", "backfill", SHOP, "--days", "7")
    assert result.exit_code == 0, result.output
    assert "orders: 1 listed, 1 queued" in result.stderr
    assert "orders: 1 changed since" in result.stdout

    again = invoke(app, "shops", "backfill", SHOP, "--days", "30", "--json")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["resources"]["orders"] == {"found": 2, "stored": 1}


def test_backfill_of_an_unknown_shop(app: Flask) -> None:
    result = invoke(app, "shops", "backfill", "nope.myshopify.com")
    assert result.exit_code == 1
    assert "shop not found" in result.stderr


def test_a_new_shop_starts_its_backfill_at_once(app: Flask) -> None:
    from integration import runtime_of

    result = invoke(app, "shops", "add", "--platform", "shopify", "--domain", SHOP, "--token", TOKEN)
    assert result.exit_code == 0, result.output
    (job,) = runtime_of(app).queue("bulk").get_jobs()
    assert (job.func_name, job.args) == ("jobs.sync.reconcile_shop", (1,))
