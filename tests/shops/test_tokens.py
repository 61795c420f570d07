"""Expiring Shopify tokens refreshed once under a lock, refusals marked; subscriptions made idempotently.

Everything runs against the real-HTTP fake Shopify, the real Redis and both databases.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from integration.core.config import Settings
from integration.core.db import utcnow
from integration.core.runtime import Runtime
from integration.platforms.interfaces import TransientPlatformError
from integration.platforms.shopify.connection import graphql_client
from integration.platforms.shopify.subscriptions import SUBSCRIPTION_TOPICS, ensure_subscriptions, graphql_topic
from integration.shops.access import shop_access
from integration.shops.models import Shop, TokenState
from integration.shops.registry import TokenGrant
from integration.shops.tokens import TokenRefreshFailed, fresh_access
from tests.fakes.shopify_admin import FakeShopify
from tests.helpers import SHOP_DOMAIN, RuntimeFactory, add_shop, shop_row


@pytest.fixture
def shopify_settings(settings: Settings, fake_shopify: FakeShopify) -> Settings:
    fake_shopify.oauth.configure(api_key=settings.shopify_api_key, secret=settings.shopify_api_secret)
    return settings.replace(shopify_admin_url=fake_shopify.admin_url_template)


@pytest.fixture
def shop_runtime(make_runtime: RuntimeFactory, shopify_settings: Settings) -> Runtime:
    return make_runtime(shopify_admin_url=shopify_settings.shopify_admin_url)


def install(runtime: Runtime, fake: FakeShopify, *, expires_in: float, refresh: str = "shprt_first") -> int:
    """A shop holding an expiring token (``expires_in`` seconds left) and a live refresh token."""
    fake.add_shop(SHOP_DOMAIN, "shpat_first")
    fake.oauth.set_refresh_token(SHOP_DOMAIN, refresh)
    grant = TokenGrant(
        refresh_token=refresh,
        access_expires_at=utcnow() + dt.timedelta(seconds=expires_in),
        refresh_expires_at=utcnow() + dt.timedelta(days=90),
    )
    return add_shop(runtime, "shopify", SHOP_DOMAIN, "shpat_first", grant=grant).id


def test_token_far_from_expiry_is_used_as_is(shop_runtime: Runtime, fake_shopify: FakeShopify) -> None:
    shop_id = install(shop_runtime, fake_shopify, expires_in=3600)
    assert fresh_access(shop_runtime, shop_id).access_token == "shpat_first"
    assert fake_shopify.oauth.calls["refresh_token"] == 0


def test_token_near_expiry_is_refreshed_and_the_pair_stored(shop_runtime: Runtime, fake_shopify: FakeShopify) -> None:
    shop_id = install(shop_runtime, fake_shopify, expires_in=120)
    access = fresh_access(shop_runtime, shop_id)
    assert access.access_token and access.access_token != "shpat_first"
    assert fake_shopify.oauth.calls["refresh_token"] == 1
    shop = shop_row(shop_runtime, shop_id)
    cipher = shop_runtime.cipher
    assert cipher.decrypt(shop.access_token_enc or "") == access.access_token
    assert cipher.decrypt(shop.refresh_token_enc or "").startswith("shprt_")
    assert cipher.decrypt(shop.refresh_token_enc or "") != "shprt_first"
    assert shop.access_token_expires_at is not None and shop.access_token_expires_at > utcnow() + dt.timedelta(
        minutes=50
    )
    # The new token works against the Admin API, and the next call needs no refresh.
    client = graphql_client(shop_runtime.settings, access)
    ensure_subscriptions(client, shop_runtime.settings)
    client.close()
    assert fresh_access(shop_runtime, shop_id).access_token == access.access_token
    assert fake_shopify.oauth.calls["refresh_token"] == 1


def test_two_workers_refresh_once_and_both_get_the_new_token(
    shop_runtime: Runtime, shopify_settings: Settings, fake_shopify: FakeShopify
) -> None:
    shop_id = install(shop_runtime, fake_shopify, expires_in=30)
    fake_shopify.oauth.token_delay = 0.5  # both workers are waiting while the first refresh is in flight
    barrier = threading.Barrier(2)
    results: list[str | None] = []
    errors: list[BaseException] = []

    def worker() -> None:
        runtime = Runtime.from_settings(shopify_settings)  # each worker its own engine and Redis client
        try:
            barrier.wait()
            results.append(fresh_access(runtime, shop_id).access_token)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            runtime.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert fake_shopify.oauth.calls["refresh_token"] == 1
    assert len(results) == 2 and results[0] == results[1] != "shpat_first"


def test_refused_refresh_marks_the_shop_and_fails_fast(shop_runtime: Runtime, fake_shopify: FakeShopify) -> None:
    shop_id = install(shop_runtime, fake_shopify, expires_in=10)
    fake_shopify.oauth.set_refresh_token(SHOP_DOMAIN, "shprt_someone_else_rotated_it")
    with pytest.raises(TokenRefreshFailed, match="invalid_grant") as info:
        fresh_access(shop_runtime, shop_id)
    assert "shprt" not in str(info.value)
    shop = shop_row(shop_runtime, shop_id)
    assert shop.token_state == TokenState.REFRESH_FAILED
    assert "invalid_grant" in (shop.token_error or "")
    # No hot loop: later calls fail without asking Shopify again.
    for _ in range(3):
        with pytest.raises(TokenRefreshFailed):
            fresh_access(shop_runtime, shop_id)
    assert fake_shopify.oauth.calls["refresh_token"] == 1
    # Jobs using the shared client helper see the same refusal.
    with shop_runtime.session() as session, pytest.raises(TokenRefreshFailed):
        shop_access(session, shop_runtime.cipher, shop_id, runtime=shop_runtime)


def test_shopify_down_is_transient_and_nothing_is_marked(shop_runtime: Runtime, fake_shopify: FakeShopify) -> None:
    shop_id = install(shop_runtime, fake_shopify, expires_in=10)
    fake_shopify.queue_response(503, {"errors": "unavailable"}, path_regex=r"/oauth/access_token$")
    with pytest.raises(TransientPlatformError):
        fresh_access(shop_runtime, shop_id)
    assert shop_row(shop_runtime, shop_id).token_state == TokenState.OK
    assert fresh_access(shop_runtime, shop_id).access_token != "shpat_first"  # next attempt works


def test_a_reinstall_clears_the_refresh_failure(shop_runtime: Runtime, fake_shopify: FakeShopify) -> None:
    shop_id = install(shop_runtime, fake_shopify, expires_in=10)
    with shop_runtime.session() as session:
        session.execute(sa.update(Shop).values(token_state=TokenState.REFRESH_FAILED, token_error="HTTP 400 x"))
    assert install(shop_runtime, fake_shopify, expires_in=3600, refresh="shprt_again") == shop_id
    assert fresh_access(shop_runtime, shop_id).access_token == "shpat_first"


def test_subscriptions_created_once_then_left_alone(shop_runtime: Runtime, fake_shopify: FakeShopify) -> None:
    shop_id = install(shop_runtime, fake_shopify, expires_in=3600)
    settings = shop_runtime.settings
    fake_shopify.oauth.refused_topics = {"CUSTOMERS_PURCHASING_SUMMARY"}
    client = graphql_client(settings, fresh_access(shop_runtime, shop_id))
    try:
        first = ensure_subscriptions(client, settings)
        assert "app/uninstalled" in first.created and "orders/create" in first.created
        assert first.present == ()
        assert len(first.problems) == 1 and first.problems[0].startswith("customers/purchasing_summary")
        subs = fake_shopify.subscriptions(SHOP_DOMAIN)
        assert {s["uri"] for s in subs} == {f"{settings.public_url}/webhooks/shopify"}
        assert {s["topic"] for s in subs} == {graphql_topic(t) for t in SUBSCRIPTION_TOPICS} - {
            "CUSTOMERS_PURCHASING_SUMMARY"
        }
        fake_shopify.oauth.refused_topics = set()
        second = ensure_subscriptions(client, settings)
        assert second.created == ("customers/purchasing_summary",)
        assert len(second.present) == len(SUBSCRIPTION_TOPICS) - 1 and second.problems == ()
        third = ensure_subscriptions(client, settings)
        assert third.created == () and len(third.present) == len(SUBSCRIPTION_TOPICS)
    finally:
        client.close()
    creates = [m for m in fake_shopify.mutations if m.root_field == "webhookSubscriptionCreate"]
    assert len(creates) == len(SUBSCRIPTION_TOPICS)
