"""The subscription health job end to end: the real platform halves over HTTP against the fakes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from integration.core.runtime import Runtime
from integration.shops.models import Shop
from integration.shops.subscriptions import check_shop
from tests.fakes.bigcommerce_api import FakeBigCommerce
from tests.fakes.shopify_admin import FakeShopify
from tests.helpers import SHOP_DOMAIN, STORE_HASH, add_shop

bigcommerce_hooks = pytest.importorskip("integration.platforms.bigcommerce.hooks")
shopify_subscriptions = pytest.importorskip("integration.platforms.shopify.subscriptions")

BC_TOKEN = "bc-api-token-e2e"
SHOPIFY_TOKEN = "shpat_e2e_token"


@pytest.fixture
def platform_runtime(
    runtime: Runtime, fake_shopify: FakeShopify, bigcommerce_server: FakeBigCommerce
) -> Iterator[Runtime]:
    bigcommerce_server.reset()
    own = Runtime.from_settings(
        runtime.settings.replace(
            shopify_admin_url=fake_shopify.admin_url_template,
            bigcommerce_api_url=bigcommerce_server.url,
            public_url="https://app.example.com",
        )
    )
    yield own
    own.engine.dispose()
    if own._redis is not None:
        own._redis.close()


def stored_report(runtime: Runtime, shop_id: int) -> dict[str, Any]:
    with runtime.session() as session:
        shop = session.get(Shop, shop_id)
        assert shop is not None and shop.subscriptions_checked_at is not None
        return dict(json.loads(shop.subscriptions_report or "null"))


def test_bigcommerce_hooks_are_created_then_a_deactivated_one_is_reactivated(
    platform_runtime: Runtime, bigcommerce_server: FakeBigCommerce
) -> None:
    bigcommerce_server.add_store(STORE_HASH, BC_TOKEN)
    shop = add_shop(platform_runtime, "bigcommerce", STORE_HASH, BC_TOKEN)

    first = check_shop(platform_runtime, shop.id)
    assert first is not None and first.created and not first.problems
    hooks = bigcommerce_server.hooks_of(STORE_HASH)
    assert len(hooks) == len(first.created)
    # The hooks send the shop's current webhook token, which the intake checks.
    assert all(shop.webhook_token in (h["headers"] or {}).values() for h in hooks)
    assert stored_report(platform_runtime, shop.id)["created"] == list(first.created)

    # BigCommerce deactivated one after 48 h of failed deliveries.
    dead = hooks[0]
    bigcommerce_server.set_hook(STORE_HASH, dead["id"], is_active=False)
    second = check_shop(platform_runtime, shop.id)
    assert second is not None
    assert second.reactivated == (dead["scope"],)
    assert (second.created, second.problems) == ((), ())
    assert all(h["is_active"] for h in bigcommerce_server.hooks_of(STORE_HASH))
    assert stored_report(platform_runtime, shop.id)["reactivated"] == [dead["scope"]]


def test_bigcommerce_refusal_is_recorded(platform_runtime: Runtime, bigcommerce_server: FakeBigCommerce) -> None:
    bigcommerce_server.add_store(STORE_HASH, "another-token")  # ours was revoked: 401
    shop = add_shop(platform_runtime, "bigcommerce", STORE_HASH, BC_TOKEN)
    report = check_shop(platform_runtime, shop.id)
    assert report is not None and report.problems
    assert "401" in report.problems[0]
    assert stored_report(platform_runtime, shop.id)["problems"] == list(report.problems)


def _subscriptions_page(nodes: list[dict[str, str]]) -> dict[str, Any]:
    cost = {"requestedQueryCost": 1, "actualQueryCost": 1}
    connection = {"nodes": nodes, "pageInfo": {"hasNextPage": False, "endCursor": None}}
    return {"data": {"webhookSubscriptions": connection}, "extensions": {"cost": cost}}


def _created(topic: str, errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    payload = {
        "webhookSubscription": None if errors else {"id": "gid://shopify/WebhookSubscription/1", "topic": topic},
        "userErrors": errors or [],
    }
    return {"data": {"webhookSubscriptionCreate": payload}, "extensions": {"cost": {"actualQueryCost": 10}}}


def test_shopify_missing_subscriptions_are_created_and_a_refused_topic_recorded(
    platform_runtime: Runtime, fake_shopify: FakeShopify
) -> None:
    topics = shopify_subscriptions.SUBSCRIPTION_TOPICS
    graphql_topic = shopify_subscriptions.graphql_topic
    uri = "https://app.example.com/webhooks/shopify"
    kept, refused, *missing = topics
    fake_shopify.add_shop(SHOP_DOMAIN, SHOPIFY_TOKEN)
    shop = add_shop(platform_runtime, token=SHOPIFY_TOKEN)
    # The fake Admin API does not keep subscriptions: answer the calls in order, as Shopify would.
    fake_shopify.queue_response(200, _subscriptions_page([{"id": "gid://1", "topic": graphql_topic(kept), "uri": uri}]))
    fake_shopify.queue_response(200, _created(refused, [{"field": "topic", "message": "Access denied for topic"}]))
    for topic in missing:
        fake_shopify.queue_response(200, _created(topic))

    report = check_shop(platform_runtime, shop.id)
    assert report is not None
    assert report.present == (kept,)
    assert report.created == tuple(missing)
    assert len(report.problems) == 1 and report.problems[0].startswith(f"{refused}: ")
    # What was sent: our token, our delivery URI.
    creates = fake_shopify.graphql_requests("webhookSubscriptionCreate")
    assert len(creates) == len(topics) - 1
    assert {r.body["variables"]["webhookSubscription"]["uri"] for r in creates} == {uri}  # type: ignore[index]
    assert {r.headers.get("X-Shopify-Access-Token") for r in fake_shopify.graphql_requests()} == {SHOPIFY_TOKEN}
    stored = stored_report(platform_runtime, shop.id)
    assert (stored["present"], stored["created"], stored["problems"]) == ([kept], list(missing), list(report.problems))
