"""Shopify topics that name a resource instead of carrying it, read back over GraphQL (real HTTP)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from integration.events.changes import ConsentChange, ConsentChannel, CustomerChange, OrderChange, Skip
from integration.platforms.interfaces import NotFoundAtPlatform, ShopAccess, StoredEvent
from integration.platforms.shopify.adapter import ShopifyAdapter
from integration.platforms.shopify.client import ShopifyGraphQL
from integration.platforms.shopify.topics import API_TOPICS
from tests.fakes.shopify_admin import FakeShopify
from tests.sync.test_reconcile import customer_node, order_fields, stamp

SHOP = "readback.myshopify.com"
TOKEN = "shpat_readback"
ACCESS = ShopAccess(3, SHOP, TOKEN)
UPDATED = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def adapter(fake_shopify: FakeShopify) -> ShopifyAdapter:
    fake_shopify.add_shop(SHOP, TOKEN)
    return ShopifyAdapter(
        graphql=lambda access: ShopifyGraphQL(
            fake_shopify.admin_url_template, access.identifier, access.access_token or "", "2025-10"
        )
    )


def event(topic: str, payload: dict[str, object]) -> StoredEvent:
    return StoredEvent(1, "shopify", SHOP, topic, json.dumps(payload).encode(), None, "2025-10")


def test_tags_added_reads_the_whole_customer_back(fake_shopify: FakeShopify, adapter: ShopifyAdapter) -> None:
    fake_shopify.add_customer(SHOP, 4001, **customer_node("4001", UPDATED, tags=["vip", "gold"]))
    payload = {"customerId": "gid://shopify/Customer/4001", "tags": ["vip"], "occurredAt": stamp(UPDATED)}
    customer, consent = adapter.translate(event("customer.tags_added", payload), ACCESS)  # type: ignore[misc]
    assert isinstance(customer, CustomerChange)
    assert (customer.platform_id, customer.tags, customer.updated_at) == ("4001", ("gold", "vip"), UPDATED)
    assert consent == ConsentChange("4001", ConsentChannel.EMAIL, "subscribed", UPDATED, email="ada@example.com")


def test_purchasing_summary_reads_its_last_order_back(fake_shopify: FakeShopify, adapter: ShopifyAdapter) -> None:
    fake_shopify.add_order(SHOP, 5001, stamp(UPDATED), **order_fields("4001", UPDATED))
    payload = {
        "customerId": "gid://shopify/Customer/4001",
        "numberOfOrders": "3",
        "amountSpent": {"amount": "99.00", "currencyCode": "CAD"},
        "lastOrderId": "gid://shopify/Order/5001",
        "occurredAt": stamp(UPDATED),
    }
    order, *fulfillments = adapter.translate(event("customers/purchasing_summary", payload), ACCESS)  # type: ignore[misc]
    assert isinstance(order, OrderChange)
    assert (order.platform_id, order.updated_at, len(fulfillments)) == ("5001", UPDATED, 1)


def test_purchasing_summary_without_an_order_is_skipped(adapter: ShopifyAdapter) -> None:
    payload = {"customerId": "gid://shopify/Customer/4001", "numberOfOrders": "0", "lastOrderId": None}
    assert isinstance(adapter.translate(event("customers/purchasing_summary", payload), ACCESS), Skip)


def test_a_resource_gone_at_shopify_is_not_found(adapter: ShopifyAdapter) -> None:
    with pytest.raises(NotFoundAtPlatform):
        adapter.translate(event("reconcile/order", {"id": 999}), ACCESS)


def test_without_api_access_these_topics_are_not_handled() -> None:
    offline = ShopifyAdapter()
    assert not any(offline.handles(topic) for topic in API_TOPICS)
    assert offline.handles("orders/create")


def test_the_read_back_client_is_reused_per_shop_until_the_token_changes(
    fake_shopify: FakeShopify, adapter: ShopifyAdapter
) -> None:
    fake_shopify.add_customer(SHOP, 4001, **customer_node("4001", UPDATED))
    adapter.translate(event("reconcile/customer", {"id": 4001}), ACCESS)
    first = adapter._clients[SHOP]
    adapter.translate(event("reconcile/customer", {"id": 4001}), ACCESS)
    assert adapter._clients[SHOP] is first
    fake_shopify.add_shop(SHOP, "shpat_new")  # reinstalled: a new token
    fake_shopify.add_customer(SHOP, 4001, **customer_node("4001", UPDATED))
    adapter.translate(event("reconcile/customer", {"id": 4001}), ShopAccess(3, SHOP, "shpat_new"))
    assert adapter._clients[SHOP] is not first
    adapter.close()


def test_a_read_back_order_is_paid_when_its_first_payment_went_through(
    fake_shopify: FakeShopify, adapter: ShopifyAdapter
) -> None:
    transactions = [
        {"kind": "AUTHORIZATION", "status": "SUCCESS", "processedAt": stamp(UPDATED - dt.timedelta(hours=3))},
        {"kind": "CAPTURE", "status": "SUCCESS", "processedAt": stamp(UPDATED - dt.timedelta(hours=2))},
    ]
    fake_shopify.add_order(SHOP, 5002, stamp(UPDATED), **order_fields("4001", UPDATED, transactions=transactions))
    order, *_ = adapter.translate(event("reconcile/order", {"id": 5002}), ACCESS)  # type: ignore[misc]
    assert isinstance(order, OrderChange)
    assert order.paid_at == UPDATED - dt.timedelta(hours=2)
