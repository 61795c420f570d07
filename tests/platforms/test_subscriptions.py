"""The subscription health job end to end: the real platform halves over HTTP against the fakes."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from integration.core.db import utcnow
from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.customers.profiles import upsert_profile
from integration.events.changes import Address, CustomerChange
from integration.platforms.shopify.subscriptions import SUBSCRIPTION_TOPICS, graphql_topic
from integration.shops.models import Shop
from integration.shops.registry import TokenGrant
from integration.shops.subscriptions import check_shop
from tests.fakes.bigcommerce_api import FakeBigCommerce
from tests.fakes.shopify_admin import FakeShopify
from tests.helpers import BC_TOKEN, SHOP_DOMAIN, SHOPIFY_TOKEN, STORE_HASH, RuntimeFactory, add_shop, shop_row


@pytest.fixture
def platform_runtime(make_runtime: RuntimeFactory, fake_shopify: FakeShopify, fake_bc: FakeBigCommerce) -> Runtime:
    return make_runtime(
        shopify_admin_url=fake_shopify.admin_url_template,
        bigcommerce_api_url=fake_bc.url,
        public_url="https://app.example.com",
    )


def stored_report(runtime: Runtime, shop_id: int) -> dict[str, Any]:
    with runtime.session() as session:
        shop = session.get(Shop, shop_id)
        assert shop is not None and shop.subscriptions_checked_at is not None
        return dict(json.loads(shop.subscriptions_report or "null"))


def test_bigcommerce_hooks_are_created_then_a_deactivated_one_is_reactivated(
    platform_runtime: Runtime, fake_bc: FakeBigCommerce
) -> None:
    shop = add_shop(platform_runtime, "bigcommerce", STORE_HASH, BC_TOKEN)

    first = check_shop(platform_runtime, shop.id)
    assert first is not None and first.created and not first.problems
    hooks = fake_bc.hooks_of(STORE_HASH)
    assert len(hooks) == len(first.created)
    # The hooks send the shop's current webhook token, which the intake checks.
    assert all(shop.webhook_token in (h["headers"] or {}).values() for h in hooks)
    assert stored_report(platform_runtime, shop.id)["created"] == list(first.created)

    # BigCommerce deactivated one after 48 h of failed deliveries.
    dead = hooks[0]
    fake_bc.set_hook(STORE_HASH, dead["id"], is_active=False)
    second = check_shop(platform_runtime, shop.id)
    assert second is not None
    assert second.reactivated == (dead["scope"],)
    assert (second.created, second.problems) == ((), ())
    assert all(h["is_active"] for h in fake_bc.hooks_of(STORE_HASH))
    assert stored_report(platform_runtime, shop.id)["reactivated"] == [dead["scope"]]


def test_bigcommerce_refusal_is_recorded(platform_runtime: Runtime, fake_bc: FakeBigCommerce) -> None:
    fake_bc.add_store(STORE_HASH, "another-token")  # ours was revoked: 401
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
    platform_runtime: Runtime, shopify: FakeShopify
) -> None:
    uri = "https://app.example.com/webhooks/shopify"
    kept, refused, *missing = SUBSCRIPTION_TOPICS
    shop = add_shop(platform_runtime)
    # The fake Admin API does not keep subscriptions: answer the calls in order, as Shopify would.
    shopify.queue_response(200, _subscriptions_page([{"id": "gid://1", "topic": graphql_topic(kept), "uri": uri}]))
    shopify.queue_response(200, _created(refused, [{"field": "topic", "message": "Access denied for topic"}]))
    for topic in missing:
        shopify.queue_response(200, _created(topic))

    report = check_shop(platform_runtime, shop.id)
    assert report is not None
    assert report.present == (kept,)
    assert report.created == tuple(missing)
    assert len(report.problems) == 1 and report.problems[0].startswith(f"{refused}: ")
    # What was sent: our token, our delivery URI.
    creates = shopify.graphql_requests("webhookSubscriptionCreate")
    assert len(creates) == len(SUBSCRIPTION_TOPICS) - 1
    assert {r.body["variables"]["webhookSubscription"]["uri"] for r in creates} == {uri}  # type: ignore[index]
    assert {r.headers.get("X-Shopify-Access-Token") for r in shopify.graphql_requests()} == {SHOPIFY_TOKEN}
    stored = stored_report(platform_runtime, shop.id)
    assert (stored["present"], stored["created"], stored["problems"]) == ([kept], list(missing), list(report.problems))


# -- the shop's own facts, read by the same check


def _profile(runtime: Runtime, shop_id: int, customer_id: str, address: Address) -> int:
    with runtime.session() as session:
        change = CustomerChange(customer_id, dt.datetime(2026, 11, 1, tzinfo=dt.UTC), address=address)
        return upsert_profile(session, shop_id, change)


def _zone(runtime: Runtime, customer_id: int) -> tuple[str | None, str | None]:
    with runtime.session() as session:
        customer = session.get_one(Customer, customer_id)
        return customer.time_zone, customer.time_zone_source


def test_every_check_reads_the_shop_facts_and_customers_using_the_shops_zone_follow_it(
    platform_runtime: Runtime, shopify: FakeShopify
) -> None:
    shop = add_shop(platform_runtime)
    # A US address without a state says nothing about the zone (the US spans several).
    vague = _profile(platform_runtime, shop.id, "1", Address(city="Springfield", country_code="US"))
    placed = _profile(platform_runtime, shop.id, "2", Address(city="Berlin", country_code="DE"))
    assert _zone(platform_runtime, vague) == (None, "shop")  # the shop's zone was never read

    check_shop(platform_runtime, shop.id)
    facts = shop_row(platform_runtime, shop.id)
    assert (facts.name, facts.currency, facts.primary_domain) == ("Demo Shop", "USD", SHOP_DOMAIN)
    assert facts.owner_email == "owner@demo-shop.example.com" and facts.facts_read_at is not None
    assert (facts.platform_time_zone, facts.time_zone) == ("America/New_York", "America/New_York")
    assert _zone(platform_runtime, vague) == ("America/New_York", "shop")
    assert _zone(platform_runtime, placed) == ("Europe/Berlin", "address")
    # A customer who arrives now gets the shop's zone straight away.
    later = _profile(platform_runtime, shop.id, "3", Address(country_code="US"))
    assert _zone(platform_runtime, later) == ("America/New_York", "shop")

    # The merchant moves the shop on Shopify: the next check follows.
    shopify.set_shop_facts(SHOP_DOMAIN, ianaTimezone="America/Los_Angeles", name="Demo Shop West")
    check_shop(platform_runtime, shop.id)
    assert shop_row(platform_runtime, shop.id).name == "Demo Shop West"
    assert [_zone(platform_runtime, c)[0] for c in (vague, placed, later)] == [
        "America/Los_Angeles",
        "Europe/Berlin",
        "America/Los_Angeles",
    ]

    # An override the merchant set wins over whatever the platform says later.
    from integration.shops.facts import set_time_zone_override

    with platform_runtime.session() as session:
        set_time_zone_override(session, session.get_one(Shop, shop.id), "Europe/Dublin")
    shopify.set_shop_facts(SHOP_DOMAIN, ianaTimezone="America/Denver", email="not an email")
    check_shop(platform_runtime, shop.id)
    facts = shop_row(platform_runtime, shop.id)
    assert (facts.platform_time_zone, facts.time_zone) == ("America/Denver", "Europe/Dublin")
    assert facts.owner_email == "owner@demo-shop.example.com"  # what the platform sent was no address
    assert _zone(platform_runtime, vague) == ("Europe/Dublin", "shop")


def test_bigcommerce_store_facts_and_a_refusal_of_them(platform_runtime: Runtime, fake_bc: FakeBigCommerce) -> None:
    shop = add_shop(platform_runtime, "bigcommerce", STORE_HASH, BC_TOKEN)
    fake_bc.set_store_info(STORE_HASH, timezone={"name": "Australia/Sydney"}, currency="AUD")
    report = check_shop(platform_runtime, shop.id)
    assert report is not None and not report.problems
    facts = shop_row(platform_runtime, shop.id)
    assert (facts.time_zone, facts.currency, facts.owner_email) == ("Australia/Sydney", "AUD", "jane.does@example.com")
    assert facts.primary_domain == "my-awesome.store"

    # The app lost store_v2_information_read_only: the hooks are still checked, the refusal is for ops.
    fake_bc.queue_response("GET", r"/v2/store$", 403)
    report = check_shop(platform_runtime, shop.id)
    assert report is not None and report.present
    assert report.problems == ("shop facts not read: the platform refused: BigCommerce GET /v2/store answered 403",)
    assert stored_report(platform_runtime, shop.id)["problems"] == list(report.problems)
    assert shop_row(platform_runtime, shop.id).time_zone == "Australia/Sydney"  # kept from before


def test_a_shopify_token_that_expired_is_refreshed_before_the_check(
    platform_runtime: Runtime, fake_shopify: FakeShopify
) -> None:
    """Expiring offline tokens live an hour and the check runs every six: it refreshes first."""
    settings = platform_runtime.settings
    fake_shopify.oauth.configure(api_key=settings.shopify_api_key, secret=settings.shopify_api_secret)
    fake_shopify.add_shop(SHOP_DOMAIN, "shpat_current")  # ours expired: the Admin API no longer takes it
    fake_shopify.oauth.set_refresh_token(SHOP_DOMAIN, "shprt_live")
    expired = TokenGrant(refresh_token="shprt_live", access_expires_at=utcnow() - dt.timedelta(minutes=1))
    registered = add_shop(platform_runtime, "shopify", SHOP_DOMAIN, "shpat_expired", grant=expired)
    report = check_shop(platform_runtime, registered.id)
    assert report is not None and not report.problems, report
    assert fake_shopify.oauth.calls["refresh_token"] == 1
    assert shop_row(platform_runtime, registered.id).time_zone == "America/New_York"
