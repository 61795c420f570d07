"""The Shopify GraphQL client over real HTTP against FakeShopify; time is faked, nothing really sleeps."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import socket
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from integration.core.runtime import Runtime
from integration.platforms.interfaces import NotFoundAtPlatform, ShopAccess, TransientPlatformError
from integration.platforms.shopify.client import ShopifyAPIError, ShopifyGraphQL
from integration.platforms.shopify.connection import budget_left, graphql_client
from integration.platforms.shopify.queries import CustomerSummary, MarketingConsent, Money, UpdatedResource
from tests.fakes.shopify_admin import FakeShopify
from tests.helpers import FakeClock

SHOP = "demo-shop.myshopify.com"
TOKEN = "shpat_SECRET_4b1d9e7c"
VERSION = "2026-10"


@pytest.fixture
def shopify(fake_shopify: FakeShopify, clock: FakeClock) -> FakeShopify:
    fake_shopify.clock = clock.monotonic
    fake_shopify.add_shop(SHOP, TOKEN)
    return fake_shopify


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    yield session
    session.close()


def make_client(
    fake: FakeShopify, http: requests.Session, clock: FakeClock, token: str = TOKEN, **kwargs: Any
) -> ShopifyGraphQL:
    return ShopifyGraphQL(
        kwargs.pop("admin_url_template", fake.admin_url_template),
        SHOP,
        token,
        VERSION,
        session=http,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        **kwargs,
    )


@pytest.fixture
def client(shopify: FakeShopify, http: requests.Session, clock: FakeClock) -> ShopifyGraphQL:
    return make_client(shopify, http, clock)


def test_customer_summary_reads_what_2025_01_webhooks_dropped(
    shopify: FakeShopify, client: ShopifyGraphQL, clock: FakeClock
) -> None:
    shopify.add_customer(
        SHOP,
        "7001",
        numberOfOrders=3,
        amountSpent={"amount": "129.95", "currencyCode": "EUR"},
        tags=["vip", "wholesale"],
        emailMarketingConsent={
            "marketingState": "SUBSCRIBED",
            "marketingOptInLevel": "CONFIRMED_OPT_IN",
            "consentUpdatedAt": "2026-02-03T04:05:06Z",
        },
        smsMarketingConsent={"marketingState": "NOT_SUBSCRIBED", "consentUpdatedAt": None},
        updatedAt="2026-03-01T12:00:00-05:00",
    )

    summary = client.customer_summary("7001")

    assert summary == CustomerSummary(
        customer_id="7001",
        number_of_orders=3,
        amount_spent=Money(Decimal("129.95"), "EUR"),
        tags=("vip", "wholesale"),
        email_marketing_consent=MarketingConsent("SUBSCRIBED", dt.datetime(2026, 2, 3, 4, 5, 6, tzinfo=dt.UTC)),
        sms_marketing_consent=MarketingConsent("NOT_SUBSCRIBED", None),
        updated_at=dt.datetime(2026, 3, 1, 17, 0, tzinfo=dt.UTC),
    )
    [sent] = shopify.graphql_requests()
    assert sent.method == "POST"
    assert sent.path == f"/{SHOP}/admin/api/{VERSION}/graphql.json"
    assert sent.headers["X-Shopify-Access-Token"] == TOKEN
    assert sent.root_field == "customer"
    assert sent.body["variables"] == {"id": "gid://shopify/Customer/7001"}
    assert clock.sleeps == []


def test_a_gid_is_accepted_and_the_template_without_shop_works(
    shopify: FakeShopify, http: requests.Session, clock: FakeClock
) -> None:
    shopify.add_customer(SHOP, 7002)
    client = make_client(shopify, http, clock, admin_url_template=shopify.url)

    summary = client.customer_summary("gid://shopify/Customer/7002")

    assert summary.customer_id == "7002"
    assert summary.number_of_orders == 0
    assert shopify.graphql_requests()[0].path == f"/admin/api/{VERSION}/graphql.json"


def test_missing_customer_is_not_found(client: ShopifyGraphQL) -> None:
    with pytest.raises(NotFoundAtPlatform):
        client.customer_summary("404404")


def test_throttled_waits_for_the_bucket_to_refill_then_retries(
    shopify: FakeShopify, client: ShopifyGraphQL, clock: FakeClock
) -> None:
    shopify.add_customer(SHOP, "7001")
    shopify.bucket_size, shopify.restore_rate = 100.0, 10.0
    shopify.costs["customer"] = 50
    shopify.set_available(SHOP, 20)  # another app spent the bucket

    summary = client.customer_summary("7001")

    assert summary.customer_id == "7001"
    # (requestedQueryCost 50 - currentlyAvailable 20) / restoreRate 10
    assert clock.sleeps == [pytest.approx(3.0)]
    assert len(shopify.graphql_requests("customer")) == 2


def test_throttled_with_points_nearly_back_still_waits_a_little(
    shopify: FakeShopify, client: ShopifyGraphQL, clock: FakeClock
) -> None:
    shopify.add_customer(SHOP, "7001")
    bucket = {"maximumAvailable": 100.0, "currentlyAvailable": 49.99, "restoreRate": 50.0}
    throttled = {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {"cost": {"requestedQueryCost": 50, "actualQueryCost": None, "throttleStatus": bucket}},
    }
    shopify.queue_response(200, throttled)

    client.customer_summary("7001")

    assert clock.sleeps == [0.25]  # the floor, not 0.0002 s


def test_low_bucket_makes_the_next_similar_call_wait_before_sending(
    shopify: FakeShopify, client: ShopifyGraphQL, clock: FakeClock
) -> None:
    shopify.add_customer(SHOP, "7001")
    shopify.bucket_size, shopify.restore_rate = 100.0, 10.0
    shopify.costs["customer"] = 60
    shopify.set_available(SHOP, 100)

    client.customer_summary("7001")  # leaves 40 points; the query is known to cost 60
    assert clock.sleeps == []
    client.customer_summary("7001")

    assert clock.sleeps == [pytest.approx(2.0)]  # (60 - 40) / 10, waited before asking
    assert len(shopify.graphql_requests("customer")) == 2  # so Shopify never had to throttle


def test_no_proactive_wait_once_time_has_refilled_the_bucket(
    shopify: FakeShopify, client: ShopifyGraphQL, clock: FakeClock
) -> None:
    shopify.add_customer(SHOP, "7001")
    shopify.bucket_size, shopify.restore_rate = 100.0, 10.0
    shopify.costs["customer"] = 60
    shopify.set_available(SHOP, 100)

    client.customer_summary("7001")
    clock.now += 5.0  # 40 + 5 s x 10 = 90 points by now
    client.customer_summary("7001")

    assert clock.sleeps == []


def test_429_honours_retry_after(shopify: FakeShopify, client: ShopifyGraphQL, clock: FakeClock) -> None:
    shopify.add_customer(SHOP, "7001")
    shopify.queue_response(429, {"errors": "Exceeded 2 calls per second for api client."}, {"Retry-After": "2.0"})

    assert client.customer_summary("7001").customer_id == "7001"

    assert clock.sleeps == [2.0]


def test_5xx_is_retried_with_backoff_until_max_attempts(
    shopify: FakeShopify, http: requests.Session, clock: FakeClock
) -> None:
    for _ in range(5):
        shopify.queue_response(503, "<html>Service Unavailable</html>")
    client = make_client(shopify, http, clock, max_attempts=5)

    with pytest.raises(TransientPlatformError) as caught:
        client.customer_summary("7001")

    assert len(shopify.graphql_requests()) == 5
    assert caught.value.retry_after is None
    # Exponential from 0.5 s, each with up to half again of jitter.
    assert len(clock.sleeps) == 4
    for waited, base in zip(clock.sleeps, [0.5, 1.0, 2.0, 4.0], strict=True):
        assert base <= waited <= base * 1.5


def test_5xx_then_success(shopify: FakeShopify, client: ShopifyGraphQL, clock: FakeClock) -> None:
    shopify.add_customer(SHOP, "7001")
    shopify.queue_response(502)
    shopify.queue_response(
        200, {"errors": [{"message": "Internal error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}
    )

    assert client.customer_summary("7001").customer_id == "7001"
    assert len(clock.sleeps) == 2


def test_connection_errors_are_transient(http: requests.Session, clock: FakeClock) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ShopifyGraphQL(
        f"http://127.0.0.1:{port}", SHOP, TOKEN, VERSION, session=http, sleep=clock.sleep, max_attempts=3
    )

    with pytest.raises(TransientPlatformError, match="ConnectionError") as caught:
        client.customer_summary("7001")

    assert len(clock.sleeps) == 2
    assert TOKEN not in str(caught.value)


def test_a_wait_longer_than_max_wait_raises_instead_of_sleeping(
    shopify: FakeShopify, http: requests.Session, clock: FakeClock
) -> None:
    shopify.queue_response(429, None, {"Retry-After": "120"})
    client = make_client(shopify, http, clock, max_wait=10.0)

    with pytest.raises(TransientPlatformError) as caught:
        client.customer_summary("7001")

    assert caught.value.retry_after == 120.0
    assert clock.sleeps == []


def test_max_wait_caps_the_total_across_throttled_retries(
    shopify: FakeShopify, http: requests.Session, clock: FakeClock
) -> None:
    shopify.add_customer(SHOP, "7001")
    shopify.bucket_size, shopify.restore_rate = 100.0, 1.0
    shopify.costs["customer"] = 8
    shopify.set_available(SHOP, 0)
    # Other apps keep the bucket empty: every answer is THROTTLED needing 8 s.
    bucket = {"maximumAvailable": 100.0, "currentlyAvailable": 0.0, "restoreRate": 1.0}
    throttled = {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {"cost": {"requestedQueryCost": 8, "actualQueryCost": None, "throttleStatus": bucket}},
    }
    for _ in range(5):
        shopify.queue_response(200, throttled)
    client = make_client(shopify, http, clock, max_wait=20.0)

    with pytest.raises(TransientPlatformError, match="throttled") as caught:
        client.customer_summary("7001")

    assert clock.sleeps == [8.0, 8.0]  # a third 8 s would pass 20 s
    assert caught.value.retry_after == 8.0


def test_wrong_token_is_a_permanent_error(shopify: FakeShopify, http: requests.Session, clock: FakeClock) -> None:
    client = make_client(shopify, http, clock, token="shpat_WRONG_0000")

    with pytest.raises(ShopifyAPIError) as caught:
        client.customer_summary("7001")

    assert caught.value.status == 401
    assert len(shopify.graphql_requests()) == 1
    assert clock.sleeps == []


def test_graphql_errors_name_the_messages_not_the_variables(shopify: FakeShopify, client: ShopifyGraphQL) -> None:
    shopify.queue_response(
        200,
        {"errors": [{"message": "Access denied for customer field.", "extensions": {"code": "ACCESS_DENIED"}}]},
    )

    with pytest.raises(ShopifyAPIError, match="Access denied for customer field") as caught:
        client.customer_summary("7001")

    assert caught.value.codes == ("ACCESS_DENIED",)
    assert "7001" not in str(caught.value)


def test_user_errors_raise(shopify: FakeShopify, client: ShopifyGraphQL) -> None:
    with pytest.raises(ShopifyAPIError, match="id: Resource not found") as caught:
        client.tags_add("999", ["vip"])

    assert caught.value.user_errors == (("id", "Resource not found"),)
    assert shopify.mutations == []


def test_metafield_user_errors_raise(shopify: FakeShopify, client: ShopifyGraphQL) -> None:
    shopify.add_customer(SHOP, "7001")

    with pytest.raises(ShopifyAPIError, match=r"metafields\.0\.key: key can't be blank"):
        client.metafield_set("7001", "personal_commerce", "", "single_line_text_field", "Ana")

    assert shopify.metafields(SHOP, "7001") == {}


def test_orders_updated_since_pages_through_in_updated_order(shopify: FakeShopify, client: ShopifyGraphQL) -> None:
    shopify.add_order(SHOP, 1, "2026-03-01T09:00:00Z")  # before the window
    shopify.add_order(SHOP, 4, "2026-03-01T12:00:00Z")
    shopify.add_order(SHOP, 2, "2026-03-01T10:30:00Z")
    shopify.add_order(SHOP, 3, "2026-03-01T11:00:00+00:00")
    since = dt.datetime(2026, 3, 1, 11, 0, 0, 999, tzinfo=dt.timezone(dt.timedelta(hours=1)))

    first = client.orders_updated_since(since, first=2)
    second = client.orders_updated_since(since, after=first.end_cursor, first=2)

    assert [item.id for item in first.items] == ["2", "3"]
    assert first.items[0] == UpdatedResource("2", dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.UTC))
    assert first.has_next is True and first.end_cursor
    assert [item.id for item in second.items] == ["4"]
    assert second.has_next is False
    sent = shopify.graphql_requests("orders")
    # Whole seconds in UTC: 11:00:00.000999+01:00 -> 10:00:00Z
    assert [r.body["variables"] for r in sent] == [
        {"first": 2, "after": None, "query": "updated_at:>'2026-03-01T10:00:00Z'"},
        {"first": 2, "after": first.end_cursor, "query": "updated_at:>'2026-03-01T10:00:00Z'"},
    ]
    assert "sortKey: UPDATED_AT" in sent[0].body["query"]


def test_customers_updated_since(shopify: FakeShopify, client: ShopifyGraphQL) -> None:
    shopify.add_customer(SHOP, "7001", updatedAt="2026-03-02T00:00:00Z")
    shopify.add_customer(SHOP, "7002", updatedAt="2026-02-01T00:00:00Z")

    page = client.customers_updated_since(dt.datetime(2026, 3, 1, tzinfo=dt.UTC))

    assert page.items == (UpdatedResource("7001", dt.datetime(2026, 3, 2, tzinfo=dt.UTC)),)
    assert page.has_next is False


def test_naive_since_is_refused(client: ShopifyGraphQL) -> None:
    with pytest.raises(ValueError, match="timezone"):
        client.orders_updated_since(dt.datetime(2026, 3, 1))


def test_tags_and_metafields_reach_shopify(shopify: FakeShopify, client: ShopifyGraphQL) -> None:
    shopify.add_customer(SHOP, "7001", tags=["wholesale"])

    client.tags_add("7001", ["vip", "pc-assigned"])
    client.tags_remove("7001", ["wholesale"])
    metafield_id = client.metafield_set("7001", "personal_commerce", "assistant", "single_line_text_field", "Ana")

    assert shopify.tags(SHOP, "7001") == ["pc-assigned", "vip"]
    assert shopify.metafields(SHOP, "7001")[("personal_commerce", "assistant")]["value"] == "Ana"
    assert metafield_id is not None and metafield_id.startswith("gid://shopify/Metafield/")
    assert [m.root_field for m in shopify.mutations] == ["tagsAdd", "tagsRemove", "metafieldsSet"]
    assert shopify.mutations[0].variables == {"id": "gid://shopify/Customer/7001", "tags": ["vip", "pc-assigned"]}
    assert shopify.mutations[2].variables["metafields"] == [
        {
            "ownerId": "gid://shopify/Customer/7001",
            "namespace": "personal_commerce",
            "key": "assistant",
            "type": "single_line_text_field",
            "value": "Ana",
        }
    ]


def test_a_bare_string_of_tags_is_refused(client: ShopifyGraphQL) -> None:
    with pytest.raises(TypeError):
        client.tags_add("7001", "vip")


def test_bad_shop_or_customer_id_is_refused_before_any_request(shopify: FakeShopify, client: ShopifyGraphQL) -> None:
    with pytest.raises(ValueError):
        ShopifyGraphQL("https://{shop}", "evil.example/x?", TOKEN, VERSION)
    with pytest.raises(ValueError):
        client.customer_summary("1 OR 1=1")
    assert shopify.requests == []


def test_the_token_never_appears_in_errors_or_logs(
    shopify: FakeShopify, http: requests.Session, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="integration.platforms.shopify.client")
    client = make_client(shopify, http, clock, max_attempts=2)
    raised: list[BaseException] = []
    shopify.queue_response(403, {"errors": "Forbidden"})
    for _ in range(2):
        shopify.queue_response(500)
    shopify.queue_response(200, {"errors": [{"message": "Field 'x' doesn't exist"}]})
    shopify.queue_response(200, {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]})
    shopify.queue_response(429, None, {"Retry-After": "999"})
    for _ in range(6):
        try:
            client.customer_summary("7001")
        except (ShopifyAPIError, TransientPlatformError, NotFoundAtPlatform) as exc:
            raised.append(exc)

    # 403; 500 twice (attempts spent); a GraphQL error; THROTTLED then not found; 429 past max_wait; not found
    assert len(raised) == 6
    for error in raised:
        assert TOKEN not in str(error) and TOKEN not in repr(error)
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(client)


def test_the_bucket_each_response_reports_is_kept_for_ops(
    shopify: FakeShopify, http: requests.Session, clock: FakeClock, runtime: Runtime
) -> None:
    """The ops overview showed "not reported" for every Shopify shop: the client kept its bucket to itself."""
    access = ShopAccess(shop_id=1, identifier=SHOP, access_token=TOKEN)
    settings = dataclasses.replace(runtime.settings, shopify_admin_url=shopify.admin_url_template)
    assert budget_left(runtime.redis, SHOP) is None
    client = graphql_client(settings, access, session=http, redis=runtime.redis)
    with pytest.raises(NotFoundAtPlatform):
        client.customer_summary("404404")
    left = budget_left(runtime.redis, SHOP)
    assert left is not None and left.endswith(f"of {int(shopify.bucket_size)} points left"), left
