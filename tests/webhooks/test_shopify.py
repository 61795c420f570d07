"""POST /webhooks/shopify: every answer the endpoint gives, and what it stores (or does not) for each."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from integration.events.models import WebhookEvent
from integration.platforms.shopify.topics import TOPICS_STORED, WEBHOOK_TOPICS
from tests.helpers import (
    SHOP_DOMAIN,
    SHOPIFY_PREVIOUS_SECRET,
    SHOPIFY_SECRET,
    AppFactory,
    fixture_bytes,
    post_shopify,
    shopify_headers,
    shopify_signature,
)
from tests.webhooks.errors import assert_error as shared_assert_error
from tests.webhooks.errors import assert_ok

URL = "/webhooks/shopify"
BODY = fixture_bytes("shopify/shopify_orders_create.json")
# A body whose content must never come back in an answer.
PRIVATE = "very-private-person@example.com"
PRIVATE_BODY = b'{"id": 1, "email": "' + PRIVATE.encode() + b'"}'
# Shopify's documented X-Shopify-Triggered-At example (nanoseconds).
TRIGGERED_AT = "2023-03-29T18:00:27.877041743Z"
TRIGGERED_AT_UTC = dt.datetime(2023, 3, 29, 18, 0, 27, 877041, tzinfo=dt.UTC)
OTHER_SHOP = "other-shop.myshopify.com"

Rows = Callable[[], list[WebhookEvent]]


def backend_params(*, only_postgresql: bool = False) -> pytest.MarkDecorator:
    """Re-parametrise the suite's ``database_url`` (e.g. for a case only PostgreSQL can show)."""
    params: list[Any] = [] if only_postgresql else ["sqlite"]
    params.append(pytest.param("postgresql", marks=[pytest.mark.postgres]))
    return pytest.mark.parametrize("database_url", params, indirect=True)


def assert_error(response: TestResponse, status: int, *not_echoed: str) -> str:
    return shared_assert_error(response, status, SHOPIFY_SECRET, SHOPIFY_PREVIOUS_SECRET, PRIVATE, *not_echoed)


def without(headers: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in names}


# --- accepted deliveries ------------------------------------------------------------------------------


def test_valid_delivery_is_stored_with_every_header(client: FlaskClient, stored: Rows) -> None:
    headers = shopify_headers(
        BODY,
        topic="orders/create",
        shop="Demo-Shop.MyShopify.COM",
        webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        triggered_at=TRIGGERED_AT,
        **{"X-Shopify-Name": "order-sync", "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5"},
    )
    response = client.post(URL, data=BODY, headers=headers)
    assert_ok(response)

    [row] = stored()
    assert row.platform == "shopify"
    assert row.shop == SHOP_DOMAIN  # lower-cased
    assert row.topic == "orders/create"
    assert row.webhook_id == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert row.dedupe_key == "webhook:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"  # in the webhook namespace
    assert row.delivery_id is None
    assert row.event_id == "98880550-7158-44d4-b7cd-2c97c8a091b5"
    assert row.api_version == "2026-10"
    assert row.triggered_at == TRIGGERED_AT_UTC  # nanoseconds truncated to microseconds
    assert row.subscription_name == "order-sync"
    assert row.body == BODY
    assert row.status == "received"
    assert (row.attempts, row.duplicates) == (0, 0)
    assert row.last_error is None
    assert row.processed_at is None
    assert row.queued_at is None
    now = dt.datetime.now(dt.UTC)
    assert now - dt.timedelta(minutes=1) < row.received_at <= now


def test_optional_headers_may_be_absent(client: FlaskClient, stored: Rows) -> None:
    headers = without(shopify_headers(BODY), "X-Shopify-Event-Id", "X-Shopify-API-Version")
    assert_ok(client.post(URL, data=BODY, headers=headers))
    [row] = stored()
    assert [row.event_id, row.api_version, row.triggered_at, row.subscription_name] == [None] * 4


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("2026-01-02T03:04:05+02:00", dt.datetime(2026, 1, 2, 1, 4, 5, tzinfo=dt.UTC)),
        ("2026-01-02T03:04:05", None),  # no offset: ambiguous, not guessed
        ("yesterday", None),
    ],
)
def test_triggered_at_is_parsed_or_left_empty(
    client: FlaskClient, stored: Rows, header: str, expected: dt.datetime | None
) -> None:
    # An odd timestamp is not a reason to refuse (and lose) a genuine delivery.
    assert_ok(post_shopify(client, BODY, triggered_at=header))
    [row] = stored()
    assert row.triggered_at == expected


def test_signed_with_the_previous_secret(client: FlaskClient, stored: Rows) -> None:
    assert_ok(post_shopify(client, BODY, secret=SHOPIFY_PREVIOUS_SECRET))
    assert [row.body for row in stored()] == [BODY]


def test_previous_secret_alone_configured(make_app: AppFactory, stored: Rows) -> None:
    client = make_app(shopify_api_secret="", shopify_api_secret_previous=SHOPIFY_PREVIOUS_SECRET).test_client()
    assert_error(post_shopify(client, BODY, secret=SHOPIFY_SECRET), 401)
    assert_ok(post_shopify(client, BODY, secret=SHOPIFY_PREVIOUS_SECRET))
    assert len(stored()) == 1


def test_unprefixed_events_headers_are_accepted(client: FlaskClient, stored: Rows) -> None:
    headers = {
        "Content-Type": "application/json",
        "shopify-hmac-sha256": shopify_signature(BODY),
        "shopify-topic": "orders/updated",
        "shopify-shop-domain": SHOP_DOMAIN,
        "shopify-webhook-id": "events-1",
        "shopify-api-version": "unstable",
        "shopify-event-id": "ev-9",
        "shopify-triggered-at": TRIGGERED_AT,
    }
    assert_ok(client.post(URL, data=BODY, headers=headers))
    [row] = stored()
    assert (row.topic, row.shop, row.webhook_id, row.api_version, row.event_id) == (
        "orders/updated",
        SHOP_DOMAIN,
        "events-1",
        "unstable",
        "ev-9",
    )
    assert row.triggered_at == TRIGGERED_AT_UTC


def test_mixed_prefixed_and_unprefixed_headers(client: FlaskClient, stored: Rows) -> None:
    headers = without(shopify_headers(BODY), "X-Shopify-Hmac-Sha256", "X-Shopify-Topic")
    headers |= {"shopify-hmac-sha256": shopify_signature(BODY), "Shopify-Topic": "orders/paid"}
    assert_ok(client.post(URL, data=BODY, headers=headers))
    assert [row.topic for row in stored()] == ["orders/paid"]


def test_header_names_are_case_insensitive(client: FlaskClient, stored: Rows) -> None:
    headers = {
        "content-type": "application/json",
        "x-shopify-hmac-sha256": shopify_signature(BODY),
        "X-shopify-topic": "orders/cancelled",
        "X-SHOPIFY-SHOP-DOMAIN": SHOP_DOMAIN,
        "x-Shopify-Webhook-ID": "case-1",
        "x-shopify-api-version": "2026-10",
    }
    assert_ok(client.post(URL, data=BODY, headers=headers))
    [row] = stored()
    assert (row.topic, row.shop, row.webhook_id, row.api_version) == (
        "orders/cancelled",
        SHOP_DOMAIN,
        "case-1",
        "2026-10",
    )


def test_header_values_are_trimmed(client: FlaskClient, stored: Rows) -> None:
    headers = shopify_headers(BODY, topic=" orders/create ", shop=f" {SHOP_DOMAIN} ", webhook_id=" wh-7 ")
    assert_ok(client.post(URL, data=BODY, headers=headers))
    [row] = stored()
    assert (row.topic, row.shop, row.webhook_id) == ("orders/create", SHOP_DOMAIN, "wh-7")


def test_body_is_stored_raw_whatever_the_content_type(client: FlaskClient, stored: Rows) -> None:
    # The HMAC covers the raw bytes and those are what we keep (not a re-serialisation of the JSON).
    body = b'{ "b" : 1,\n  "a":[ 2 ,3] }'
    headers = shopify_headers(body) | {"Content-Type": "application/x-www-form-urlencoded"}
    assert_ok(client.post(URL, data=body, headers=headers))
    assert [row.body for row in stored()] == [body]


def test_signed_bytes_that_are_not_a_json_object_are_refused(client: FlaskClient, stored: Rows) -> None:
    # Signed form-encoded bytes are what the OAuth query is (see test_shopify_forgery).
    body = b"a=1&b=%20two&a=3"
    headers = shopify_headers(body) | {"Content-Type": "application/x-www-form-urlencoded"}
    assert assert_error(client.post(URL, data=body, headers=headers), 400) == "body is not a JSON object"
    assert stored() == []


def test_compliance_topic_is_stored_received(client: FlaskClient, stored: Rows) -> None:
    body = b'{"shop_id": 1, "shop_domain": "' + SHOP_DOMAIN.encode() + b'", "customer": {"id": 2}}'
    assert_ok(post_shopify(client, body, topic="customers/redact"))
    [row] = stored()
    assert (row.topic, row.status) == ("customers/redact", "received")
    assert (row.last_error, row.processed_at) == (None, None)


def test_every_known_topic_is_stored_received(client: FlaskClient, stored: Rows) -> None:
    topics = sorted(WEBHOOK_TOPICS | TOPICS_STORED)
    # The topics that act on a whole shop or a person name the shop in their body too.
    names_shop = json.dumps({"shop_domain": SHOP_DOMAIN, "myshopify_domain": SHOP_DOMAIN}).encode()
    for number, topic in enumerate(topics):
        body = names_shop if topic in TOPICS_STORED else BODY
        assert_ok(post_shopify(client, body, topic=topic, webhook_id=f"wh-{number}"))
    rows = stored()
    assert [row.topic for row in rows] == topics
    assert {row.status for row in rows} == {"received"}


# --- duplicates -----------------------------------------------------------------------------------------


def test_duplicate_webhook_id_is_counted_not_stored_again(client: FlaskClient, stored: Rows) -> None:
    assert_ok(post_shopify(client, BODY, webhook_id="dup-1"))
    assert_ok(post_shopify(client, BODY, webhook_id="dup-1"))
    [row] = stored()
    assert row.duplicates == 1
    # A retry carries the original payload, but even a different body does not replace the first one.
    assert_ok(post_shopify(client, b'{"changed": true}', webhook_id="dup-1", topic="orders/updated"))
    [row] = stored()
    assert row.duplicates == 2
    assert (row.body, row.topic) == (BODY, "orders/create")


def test_same_webhook_id_for_another_shop_is_a_separate_event(client: FlaskClient, stored: Rows) -> None:
    assert_ok(post_shopify(client, BODY, webhook_id="shared-id"))
    assert_ok(post_shopify(client, BODY, webhook_id="shared-id", shop=OTHER_SHOP))
    rows = stored()
    assert [(row.shop, row.webhook_id, row.duplicates) for row in rows] == [
        (SHOP_DOMAIN, "shared-id", 0),
        (OTHER_SHOP, "shared-id", 0),
    ]


def test_different_webhook_ids_are_different_events(client: FlaskClient, stored: Rows) -> None:
    # Two subscriptions to one topic: same event id, different webhook ids, both kept.
    for webhook_id in ("sub-a", "sub-b"):
        headers = shopify_headers(BODY, webhook_id=webhook_id, **{"X-Shopify-Event-Id": "same-event"})
        assert_ok(client.post(URL, data=BODY, headers=headers))
    assert [row.webhook_id for row in stored()] == ["sub-a", "sub-b"]


# --- refused: authentication (401) ----------------------------------------------------------------------


def _missing_hmac() -> tuple[bytes, dict[str, str]]:
    return PRIVATE_BODY, without(shopify_headers(PRIVATE_BODY), "X-Shopify-Hmac-Sha256")


def _empty_hmac() -> tuple[bytes, dict[str, str]]:
    return PRIVATE_BODY, shopify_headers(PRIVATE_BODY) | {"X-Shopify-Hmac-Sha256": ""}


def _wrong_secret() -> tuple[bytes, dict[str, str]]:
    return PRIVATE_BODY, shopify_headers(PRIVATE_BODY, secret="shpss_someone_else")


def _hmac_of_another_body() -> tuple[bytes, dict[str, str]]:
    headers = shopify_headers(PRIVATE_BODY)
    headers["X-Shopify-Hmac-Sha256"] = shopify_signature(b'{"id": 1}')
    return PRIVATE_BODY, headers


def _tampered_after_signing() -> tuple[bytes, dict[str, str]]:
    headers = shopify_headers(PRIVATE_BODY)
    return PRIVATE_BODY.replace(b'"id": 1', b'"id": 2'), headers


def _not_base64() -> tuple[bytes, dict[str, str]]:
    return PRIVATE_BODY, shopify_headers(PRIVATE_BODY) | {"X-Shopify-Hmac-Sha256": "whoops_this_is_wrong"}


def _hex_digest() -> tuple[bytes, dict[str, str]]:
    digest = hmac.new(SHOPIFY_SECRET.encode(), PRIVATE_BODY, hashlib.sha256).hexdigest()
    return PRIVATE_BODY, shopify_headers(PRIVATE_BODY) | {"X-Shopify-Hmac-Sha256": digest}


@pytest.mark.parametrize(
    "request_of",
    [
        _missing_hmac,
        _empty_hmac,
        _wrong_secret,
        _hmac_of_another_body,
        _tampered_after_signing,
        _not_base64,
        _hex_digest,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_unauthenticated_delivery_is_refused_and_not_stored(
    client: FlaskClient, stored: Rows, request_of: Callable[[], tuple[bytes, dict[str, str]]]
) -> None:
    body, headers = request_of()
    response = client.post(URL, data=body, headers=headers)
    signature = headers.get("X-Shopify-Hmac-Sha256")
    assert_error(response, 401, *([signature] if signature else []))
    assert stored() == []


def test_authentication_is_checked_before_anything_else(client: FlaskClient, stored: Rows) -> None:
    # An unsigned request learns nothing about which other headers would have been wrong.
    headers = {"X-Shopify-Hmac-Sha256": "whoops_this_is_wrong", "X-Shopify-Shop-Domain": "evil.com"}
    assert_error(client.post(URL, data=PRIVATE_BODY, headers=headers), 401, "evil.com")
    assert stored() == []


# --- refused: malformed (400) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ("X-Shopify-Topic", "Topic"),
        ("X-Shopify-Shop-Domain", "Shop-Domain"),
        ("X-Shopify-Webhook-Id", "Webhook-Id"),
    ],
)
@pytest.mark.parametrize("value", [None, "", "   "], ids=["absent", "empty", "blank"])
def test_missing_required_header(client: FlaskClient, stored: Rows, header: str, named: str, value: str | None) -> None:
    headers = without(shopify_headers(PRIVATE_BODY), header)
    if value is not None:
        headers[header] = value
    reason = assert_error(client.post(URL, data=PRIVATE_BODY, headers=headers), 400)
    assert named in reason
    assert stored() == []


@pytest.mark.parametrize(
    "shop",
    [
        "evil.com/.myshopify.com",
        "evil.com",
        "a.myshopify.com.evil.com",
        "demo-shop.myshopify.com:443",
        "demo-shop.myshopify.com/admin",
        "user@demo-shop.myshopify.com",
        "sub.demo-shop.myshopify.com",
        "demo-shop.myshopify.com.",
        "demo_shop.myshopify.com",
        "-demo.myshopify.com",
        ".myshopify.com",
        "myshopify.com",
        "demo-shop.myshopify.co",
        "démo.myshopify.com",
        "demo shop.myshopify.com",
        "https://demo-shop.myshopify.com",
    ],
)
def test_invalid_shop_domain_is_refused(client: FlaskClient, stored: Rows, shop: str) -> None:
    response = post_shopify(client, PRIVATE_BODY, shop=shop)
    reason = assert_error(response, 400)
    assert shop not in reason.replace("*.myshopify.com", "")
    assert stored() == []


@pytest.mark.parametrize(
    "header",
    [
        "X-Shopify-Topic",
        "X-Shopify-Shop-Domain",
        "X-Shopify-Webhook-Id",
        "X-Shopify-Event-Id",
        "X-Shopify-API-Version",
        "X-Shopify-Triggered-At",
        "X-Shopify-Name",
        "shopify-webhook-id",
    ],
)
def test_header_longer_than_255_is_refused(client: FlaskClient, stored: Rows, header: str) -> None:
    headers = without(shopify_headers(PRIVATE_BODY), header)
    long_value = "a" * 256
    headers[header] = long_value
    if header.startswith("shopify-"):
        headers.pop("X-Shopify-" + header.removeprefix("shopify-").title(), None)
    assert_error(client.post(URL, data=PRIVATE_BODY, headers=headers), 400, long_value)
    assert stored() == []


@pytest.mark.parametrize("header", ["X-Shopify-Webhook-Id", "X-Shopify-Event-Id"])
def test_header_of_exactly_255_is_stored_whole(client: FlaskClient, stored: Rows, header: str) -> None:
    value = "w" * 255
    assert_ok(client.post(URL, data=BODY, headers=shopify_headers(BODY) | {header: value}))
    [row] = stored()
    assert value in (row.webhook_id, row.event_id)


@pytest.mark.parametrize(
    ("header", "length"),
    [("X-Shopify-Topic", 129), ("X-Shopify-API-Version", 33), ("X-Shopify-Name", 65)],
)
def test_header_wider_than_its_column_is_never_a_503(
    client: FlaskClient, stored: Rows, header: str, length: int
) -> None:
    value = "orders/" + "x" * (length - 7)
    response = client.post(URL, data=BODY, headers=shopify_headers(BODY) | {header: value})
    # Refusing it (400) or keeping it whole (200) are both sound; asking for a retry is not.
    assert response.status_code in (200, 400), response.status_code
    rows = stored()
    if response.status_code == 400:
        assert rows == []
    else:
        [row] = rows
        assert value in (row.topic, row.api_version, row.subscription_name)


def test_body_over_the_size_limit(make_app: AppFactory, stored: Rows) -> None:
    client = make_app(max_webhook_bytes=1024).test_client()
    at_limit = b'{"a": "' + b"x" * 1015 + b'"}'
    assert len(at_limit) == 1024
    assert_ok(post_shopify(client, at_limit, webhook_id="fits"))
    over = at_limit + b" "
    assert_error(post_shopify(client, over, webhook_id="too-big"), 413)
    assert [row.webhook_id for row in stored()] == ["fits"]


def test_default_size_limit_takes_a_large_order(client: FlaskClient, stored: Rows) -> None:
    # Shopify bodies can pass a megabyte; the default limit (5 MiB) must take them.
    body = b'{"note": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    assert_ok(post_shopify(client, body))
    assert [len(row.body) for row in stored()] == [len(body)]


def test_get_is_not_allowed(client: FlaskClient) -> None:
    assert_error(client.get(URL), 405)


# --- configuration and storage failures (503) -----------------------------------------------------------


def test_secret_not_configured(make_app: AppFactory, stored: Rows) -> None:
    client = make_app(shopify_api_secret="", shopify_api_secret_previous="").test_client()
    reason = assert_error(post_shopify(client, PRIVATE_BODY), 503)
    assert "SHOPIFY_API_SECRET" in reason
    assert stored() == []


@backend_params(only_postgresql=True)
def test_recovers_after_the_database_drops_the_connection(
    make_app: AppFactory, database_url: str, stored: Rows
) -> None:
    name = f"pc-webhooks-{uuid.uuid4().hex}"
    client = make_app(database_url=f"{database_url}&application_name={name}").test_client()
    assert_ok(post_shopify(client, BODY, webhook_id="before"))
    admin = sa.create_engine(database_url)
    try:
        with admin.begin() as connection:
            killed = connection.execute(
                sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :n"),
                {"n": name},
            ).all()
    finally:
        admin.dispose()
    assert killed == [(True,)]
    # The kept connection is dead: that delivery is refused for a retry, and the next one reconnects.
    response = post_shopify(client, BODY, webhook_id="during")
    assert response.status_code == 503
    assert_ok(post_shopify(client, BODY, webhook_id="during"))
    assert [row.webhook_id for row in stored()] == ["before", "during"]
