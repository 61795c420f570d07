"""POST /webhooks/bigcommerce: every answer the endpoint gives, and what it stores (or does not) for each."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import io
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from integration.core.runtime import Runtime
from integration.events.models import WebhookEvent
from integration.platforms.bigcommerce.topics import WEBHOOK_SCOPES
from integration.shops.models import Shop
from tests.helpers import (
    BIGCOMMERCE_SECRET,
    STORE_HASH,
    AppFactory,
    add_shop,
    bigcommerce_body,
    fixture_bytes,
    post_bigcommerce,
)
from tests.webhooks.errors import assert_error as shared_assert_error
from tests.webhooks.errors import assert_ok

URL = "/webhooks/bigcommerce"
OTHER_STORE = "zz9plural"
# The documented store/order/created example, with our store in its producer.
DOC_BODY = fixture_bytes("bigcommerce/bigcommerce_webhook_order_created.json").replace(
    b"{store_hash}", STORE_HASH.encode()
)
DOC_HASH = "dd70c0976e06b67aaf671e73f49dcb79230ebf9d"
HASH = "5a7b6cbd2d8a7ad6a7b9f0e2b1c3d4e5f6a7b8c9"  # what bigcommerce_body puts in by default
PRIVATE = "very-private-person@example.com"

Rows = Callable[[], list[WebhookEvent]]


@pytest.fixture
def token(app_runtime: Runtime) -> str:
    """The webhook token of our registered store."""
    return add_shop(app_runtime, "bigcommerce", STORE_HASH).webhook_token


def body_of(**fields: Any) -> bytes:
    """A delivery body with exactly ``fields`` (None removes the field)."""
    payload: dict[str, Any] = {
        "scope": "store/order/created",
        "store_id": "1025646",
        "data": {"type": "order", "id": 250},
        "hash": HASH,
        "created_at": 1700000000,
        "producer": f"stores/{STORE_HASH}",
    }
    payload.update(fields)
    return json.dumps({k: v for k, v in payload.items() if v is not None}).encode()


def standard_headers(
    body: bytes, *, msg_id: str = "msg_2Kx8aQ", timestamp: int | None = None, secret: str = BIGCOMMERCE_SECRET
) -> dict[str, str]:
    """Standard Webhooks headers, signed here independently of webhooks.signatures."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    mac = hmac.new(secret.encode(), f"{msg_id}.{ts}.".encode() + body, hashlib.sha256)
    signature = "v1," + base64.b64encode(mac.digest()).decode()
    return {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": signature}


def assert_error(response: TestResponse, status: int, *not_echoed: str) -> str:
    return shared_assert_error(response, status, BIGCOMMERCE_SECRET, PRIVATE, *not_echoed)


# --- accepted deliveries ------------------------------------------------------------------------------


def test_valid_delivery_is_stored(client: FlaskClient, token: str, stored: Rows) -> None:
    assert_ok(post_bigcommerce(client, DOC_BODY, token))
    [row] = stored()
    assert row.platform == "bigcommerce"
    assert row.shop == STORE_HASH
    assert row.topic == "store/order/created"
    assert row.dedupe_key == f"webhook:store/order/created:{DOC_HASH}"
    assert row.webhook_id == DOC_HASH
    assert row.delivery_id is None
    assert row.triggered_at == dt.datetime(2019, 6, 25, 16, 15, 35, tzinfo=dt.UTC)  # created_at 1561479335
    assert row.body == DOC_BODY
    assert row.status == "received"
    assert (row.attempts, row.duplicates, row.last_error, row.processed_at) == (0, 0, None, None)
    assert (row.event_id, row.api_version, row.subscription_name) == (None, None, None)


def test_helper_body_is_stored(client: FlaskClient, token: str, stored: Rows) -> None:
    body = bigcommerce_body("store/customer/updated", resource_id=32)
    assert_ok(post_bigcommerce(client, body, token))
    [row] = stored()
    assert (row.topic, row.dedupe_key, row.webhook_id) == (
        "store/customer/updated",
        f"webhook:store/customer/updated:{HASH}",
        HASH,
    )
    assert row.triggered_at == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)  # 1700000000


@pytest.mark.parametrize(
    "created_at",
    [None, "1700000000", True, 0, -5, 2**40, 1e400],
    ids=["missing", "string", "bool", "zero", "negative", "far-future", "infinity"],
)
def test_odd_created_at_is_stored_without_a_time(
    client: FlaskClient, token: str, stored: Rows, created_at: Any
) -> None:
    body = body_of(created_at=created_at)
    assert_ok(post_bigcommerce(client, body, token))
    [row] = stored()
    assert row.triggered_at is None


def test_fractional_created_at(client: FlaskClient, token: str, stored: Rows) -> None:
    assert_ok(post_bigcommerce(client, body_of(created_at=1700000000.5), token))
    [row] = stored()
    assert row.triggered_at == dt.datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=dt.UTC)


def test_every_handled_scope_is_stored_received(client: FlaskClient, token: str, stored: Rows) -> None:
    scopes = sorted(WEBHOOK_SCOPES)
    for scope in scopes:
        assert_ok(post_bigcommerce(client, bigcommerce_body(scope), token))
    rows = stored()
    assert [row.topic for row in rows] == scopes
    assert {row.status for row in rows} == {"received"}


# --- authentication (401) -----------------------------------------------------------------------------


def test_wrong_token(client: FlaskClient, token: str, stored: Rows) -> None:
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert_error(post_bigcommerce(client, bigcommerce_body(), wrong), 401, wrong, token)
    assert stored() == []


@pytest.mark.parametrize("header", [None, ""], ids=["absent", "empty"])
def test_missing_token(client: FlaskClient, token: str, stored: Rows, header: str | None) -> None:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["X-Webhook-Token"] = header
    assert_error(client.post(URL, data=bigcommerce_body(), headers=headers), 401, token)
    assert stored() == []


class _WatchedBody(io.BytesIO):
    """A request body that remembers whether anyone read it."""

    was_read = False

    def read(self, size: int | None = -1) -> bytes:
        self.was_read = True
        return super().read(size)

    def readline(self, size: int | None = -1) -> bytes:
        self.was_read = True
        return super().readline(size)


@pytest.mark.parametrize("header", [None, "", "   "], ids=["absent", "empty", "blank"])
def test_no_token_is_refused_before_the_body_is_read(
    client: FlaskClient, token: str, stored: Rows, header: str | None
) -> None:
    # Parsing JSON from someone who has not even tried to authenticate is work done for nobody; a body
    # far past every limit shows that nothing was read (no 413), only the headers.
    body = _WatchedBody(bigcommerce_body() + b" " * (8 * 1024 * 1024))
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body.getvalue()))}
    if header is not None:
        headers["X-Webhook-Token"] = header
    reason = assert_error(client.post(URL, input_stream=body, headers=headers), 401, token)
    assert reason == "missing X-Webhook-Token header"
    assert not body.was_read
    assert stored() == []


def test_bodies_are_capped_at_64_kib(client: FlaskClient, token: str, stored: Rows) -> None:
    # Under MAX_WEBHOOK_BYTES (5 MiB, for Shopify's orders), BigCommerce's sub-1 KB deliveries get 64 KiB.
    padding = 64 * 1024 - len(body_of(pad=""))
    at_limit = body_of(pad="p" * padding)
    assert len(at_limit) == 64 * 1024
    assert_ok(post_bigcommerce(client, at_limit, token))
    assert_error(post_bigcommerce(client, at_limit + b" ", token), 413, token)
    for path in (URL, "/webhooks/bigcommerce/delivery-exception"):
        assert_error(client.post(path, data=body_of(pad="p" * 100_000), headers={"X-Webhook-Token": token}), 413)
    assert [row.body for row in stored()] == [at_limit]


def test_token_hash_is_not_a_token(app_runtime: Runtime, client: FlaskClient, token: str, stored: Rows) -> None:
    with app_runtime.session() as session:
        stored_hash = session.scalars(sa.select(Shop.webhook_token_hash)).one()
    assert_error(post_bigcommerce(client, bigcommerce_body(), stored_hash), 401)
    assert stored() == []


def test_unknown_store_is_refused_like_a_wrong_token(client: FlaskClient, token: str, stored: Rows) -> None:
    unknown = assert_error(post_bigcommerce(client, bigcommerce_body(store_hash=OTHER_STORE), token), 401)
    wrong = assert_error(post_bigcommerce(client, bigcommerce_body(), "not-the-token"), 401)
    assert unknown == wrong  # the answer does not tell which stores we know
    assert stored() == []


def test_unknown_store_without_any_registered_store(client: FlaskClient, stored: Rows) -> None:
    assert_error(post_bigcommerce(client, bigcommerce_body(), "anything"), 401)
    assert_error(post_bigcommerce(client, bigcommerce_body(), ""), 401)
    assert stored() == []


def test_token_of_one_store_does_not_open_another(
    app_runtime: Runtime, client: FlaskClient, token: str, stored: Rows
) -> None:
    other_token = add_shop(app_runtime, "bigcommerce", OTHER_STORE).webhook_token
    assert_error(post_bigcommerce(client, bigcommerce_body(store_hash=OTHER_STORE), token), 401)
    assert_error(post_bigcommerce(client, bigcommerce_body(), other_token), 401)
    assert stored() == []
    assert_ok(post_bigcommerce(client, bigcommerce_body(store_hash=OTHER_STORE), other_token))
    assert [row.shop for row in stored()] == [OTHER_STORE]


def test_token_of_a_shopify_shop_with_the_same_identifier_does_not_count(
    app_runtime: Runtime, client: FlaskClient, stored: Rows
) -> None:
    # The lookup is per platform: only a BigCommerce store's token opens the BigCommerce endpoint.
    shopify_token = add_shop(app_runtime, "shopify", "abc123.myshopify.com").webhook_token
    body = bigcommerce_body(store_hash="abc123")
    assert_error(post_bigcommerce(client, body, shopify_token), 401)
    assert stored() == []


def test_uninstalled_store_is_refused(app_runtime: Runtime, client: FlaskClient, token: str, stored: Rows) -> None:
    with app_runtime.session() as session:
        session.execute(sa.update(Shop).values(state="uninstalled"))
    assert_error(post_bigcommerce(client, bigcommerce_body(), token), 401)
    assert stored() == []


def test_re_registering_rotates_the_token(app_runtime: Runtime, client: FlaskClient, stored: Rows) -> None:
    old = add_shop(app_runtime, "bigcommerce", STORE_HASH).webhook_token
    new = add_shop(app_runtime, "bigcommerce", STORE_HASH).webhook_token
    assert new != old
    assert_error(post_bigcommerce(client, bigcommerce_body(), old), 401)
    assert stored() == []
    assert_ok(post_bigcommerce(client, bigcommerce_body(), new))
    assert len(stored()) == 1


# --- malformed bodies (400) -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b'{"scope": ', b"\xff\xfe\x00{", b"\xef\xbb\xbf{}", b"{'scope': 'x'}"],
    ids=["empty", "text", "truncated", "not-utf8", "bom", "single-quotes"],
)
def test_body_not_json(client: FlaskClient, token: str, stored: Rows, body: bytes) -> None:
    assert_error(post_bigcommerce(client, body, token), 400, token)
    assert stored() == []


@pytest.mark.parametrize("body", [b"[]", b'[{"scope": "store/order/created"}]', b'"x"', b"1", b"null"])
def test_body_not_a_json_object(client: FlaskClient, token: str, stored: Rows, body: bytes) -> None:
    assert_error(post_bigcommerce(client, body, token), 400)
    assert stored() == []


@pytest.mark.parametrize(
    "producer",
    [
        None,
        "",
        "stores/",
        "stores/ABC!",
        "stores/ABC123",
        STORE_HASH,
        f"store/{STORE_HASH}",
        f"stores/{STORE_HASH}/extra",
        f"stores/../{STORE_HASH}",
        f"stores/{STORE_HASH} ",
        "stores/" + "a" * 65,
        42,
        ["stores", STORE_HASH],
    ],
    ids=repr,
)
def test_missing_or_bad_producer(client: FlaskClient, token: str, stored: Rows, producer: Any) -> None:
    body = body_of(producer=producer)
    reason = assert_error(post_bigcommerce(client, body, token), 400)
    assert "producer" in reason
    assert stored() == []


@pytest.mark.parametrize("scope", [None, "", 7, ["store/order/created"]], ids=repr)
def test_missing_or_bad_scope(client: FlaskClient, token: str, stored: Rows, scope: Any) -> None:
    reason = assert_error(post_bigcommerce(client, body_of(scope=scope), token), 400)
    assert "scope" in reason
    assert stored() == []


@pytest.mark.parametrize("field", ["scope", "hash"])
def test_value_longer_than_255_is_refused(client: FlaskClient, token: str, stored: Rows, field: str) -> None:
    body = body_of(**{field: "store/" + "x" * 250})
    assert_error(post_bigcommerce(client, body, token), 400)
    assert stored() == []


def test_hash_of_exactly_255_is_kept_whole(client: FlaskClient, token: str, stored: Rows) -> None:
    long_hash = "h" * 255
    assert_ok(post_bigcommerce(client, body_of(hash=long_hash), token))
    [row] = stored()
    assert (row.webhook_id, row.dedupe_key) == (long_hash, f"webhook:store/order/created:{long_hash}")


def test_scope_wider_than_its_column_is_never_a_503(client: FlaskClient, token: str, stored: Rows) -> None:
    scope = "store/" + "x" * 123
    assert len(scope) == 129
    response = post_bigcommerce(client, body_of(scope=scope), token)
    assert response.status_code in (200, 400), response.status_code
    rows = stored()
    if response.status_code == 400:
        assert rows == []
    else:
        assert [row.topic for row in rows] == [scope]


def test_deeply_nested_json_is_a_400_not_a_500(make_app: AppFactory, stored: Rows) -> None:
    client = make_app(testing=False).test_client()
    body = b"[" * 30_000 + b"]" * 30_000  # within the 64 KiB cap, far past the parser's recursion limit
    assert_error(post_bigcommerce(client, body, "anything"), 400)
    assert stored() == []


def test_body_over_the_size_limit(make_app: AppFactory, token: str, stored: Rows) -> None:
    client = make_app(max_webhook_bytes=1024).test_client()
    padding = 1024 - len(body_of(pad=""))
    at_limit = body_of(pad="p" * padding)
    assert len(at_limit) == 1024
    assert_ok(post_bigcommerce(client, at_limit, token))
    over = at_limit + b" "
    assert_error(post_bigcommerce(client, over, token), 413, token)
    assert [(row.body, row.duplicates) for row in stored()] == [(at_limit, 0)]


# --- duplicates ---------------------------------------------------------------------------------------


def test_duplicate_scope_and_hash(client: FlaskClient, token: str, stored: Rows) -> None:
    body = bigcommerce_body()
    assert_ok(post_bigcommerce(client, body, token))
    assert_ok(post_bigcommerce(client, body, token))
    [row] = stored()
    assert row.duplicates == 1
    # A retry may come with other bytes (e.g. a later created_at); the hash alone makes it a duplicate.
    assert_ok(post_bigcommerce(client, body_of(created_at=1800000000), token))
    [row] = stored()
    assert row.duplicates == 2
    assert row.body == body


def test_same_hash_in_another_scope_is_another_event(client: FlaskClient, token: str, stored: Rows) -> None:
    assert_ok(post_bigcommerce(client, bigcommerce_body("store/order/created"), token))
    assert_ok(post_bigcommerce(client, bigcommerce_body("store/order/updated"), token))
    rows = stored()
    assert [(row.topic, row.webhook_id, row.duplicates) for row in rows] == [
        ("store/order/created", HASH, 0),
        ("store/order/updated", HASH, 0),
    ]


def test_same_hash_for_another_store_is_another_event(
    app_runtime: Runtime, client: FlaskClient, token: str, stored: Rows
) -> None:
    other_token = add_shop(app_runtime, "bigcommerce", OTHER_STORE).webhook_token
    assert_ok(post_bigcommerce(client, bigcommerce_body(), token))
    assert_ok(post_bigcommerce(client, bigcommerce_body(store_hash=OTHER_STORE), other_token))
    assert [(row.shop, row.dedupe_key) for row in stored()] == [
        (STORE_HASH, f"webhook:store/order/created:{HASH}"),
        (OTHER_STORE, f"webhook:store/order/created:{HASH}"),
    ]


@pytest.mark.parametrize("event_hash", [None, "", 12345, {"sha1": "x"}], ids=repr)
def test_without_a_usable_hash_the_body_is_the_key(
    client: FlaskClient, token: str, stored: Rows, event_hash: Any
) -> None:
    body = body_of(hash=event_hash)
    marker = "sha256:" + hashlib.sha256(body).hexdigest()
    assert_ok(post_bigcommerce(client, body, token))
    assert_ok(post_bigcommerce(client, body, token))
    [row] = stored()
    assert (row.webhook_id, row.dedupe_key, row.duplicates) == (marker, f"webhook:store/order/created:{marker}", 1)
    # Another body without a hash is another event.
    other = body_of(hash=event_hash, data={"type": "order", "id": 251})
    assert_ok(post_bigcommerce(client, other, token))
    assert len(stored()) == 2


# --- Standard Webhooks signatures -------------------------------------------------------------------------


def test_signed_delivery_stores_the_delivery_id(client: FlaskClient, token: str, stored: Rows) -> None:
    body = bigcommerce_body()
    assert_ok(post_bigcommerce(client, body, token, **standard_headers(body, msg_id="msg_A1")))
    [row] = stored()
    assert row.delivery_id == "msg_A1"
    assert row.webhook_id == "msg_A1"
    assert row.dedupe_key == f"webhook:store/order/created:{HASH}"


def test_same_webhook_id_with_another_hash_is_a_duplicate(client: FlaskClient, token: str, stored: Rows) -> None:
    first = bigcommerce_body(event_hash="hash-one")
    second = bigcommerce_body(event_hash="hash-two")
    assert_ok(post_bigcommerce(client, first, token, **standard_headers(first, msg_id="msg_same")))
    assert_ok(post_bigcommerce(client, second, token, **standard_headers(second, msg_id="msg_same")))
    [row] = stored()
    assert (row.delivery_id, row.dedupe_key, row.duplicates) == (
        "msg_same",
        "webhook:store/order/created:hash-one",
        1,
    )
    assert row.body == first


def test_same_hash_with_another_webhook_id_is_a_duplicate(client: FlaskClient, token: str, stored: Rows) -> None:
    body = bigcommerce_body()
    assert_ok(post_bigcommerce(client, body, token, **standard_headers(body, msg_id="msg_1")))
    assert_ok(post_bigcommerce(client, body, token, **standard_headers(body, msg_id="msg_2")))
    assert_ok(post_bigcommerce(client, body, token))  # and a copy without the signature headers
    [row] = stored()
    assert (row.delivery_id, row.duplicates) == ("msg_1", 2)


def test_same_webhook_id_for_another_store_is_another_event(
    app_runtime: Runtime, client: FlaskClient, token: str, stored: Rows
) -> None:
    other_token = add_shop(app_runtime, "bigcommerce", OTHER_STORE).webhook_token
    ours, theirs = (
        bigcommerce_body(event_hash="h-a"),
        bigcommerce_body(store_hash=OTHER_STORE, event_hash="h-b"),
    )
    assert_ok(post_bigcommerce(client, ours, token, **standard_headers(ours, msg_id="msg_x")))
    assert_ok(post_bigcommerce(client, theirs, other_token, **standard_headers(theirs, msg_id="msg_x")))
    assert [(row.shop, row.delivery_id) for row in stored()] == [
        (STORE_HASH, "msg_x"),
        (OTHER_STORE, "msg_x"),
    ]


def _signed_with_another_secret(body: bytes) -> dict[str, str]:
    return standard_headers(body, secret="some-other-client-secret")


def _signature_of_another_body(body: bytes) -> dict[str, str]:
    return standard_headers(body + b" ")


def _other_id_than_signed(body: bytes) -> dict[str, str]:
    return standard_headers(body) | {"webhook-id": "msg_other"}


def _other_timestamp_than_signed(body: bytes) -> dict[str, str]:
    return standard_headers(body, timestamp=1700000000) | {"webhook-timestamp": "1700000001"}


def _only_a_v2_entry(body: bytes) -> dict[str, str]:
    headers = standard_headers(body)
    return headers | {"webhook-signature": headers["webhook-signature"].replace("v1,", "v2,")}


@pytest.mark.parametrize(
    "headers_of",
    [
        _signed_with_another_secret,
        _signature_of_another_body,
        _other_id_than_signed,
        _other_timestamp_than_signed,
        _only_a_v2_entry,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_invalid_signature_is_refused_even_with_the_right_token(
    client: FlaskClient, token: str, stored: Rows, headers_of: Callable[[bytes], dict[str, str]]
) -> None:
    body = bigcommerce_body()
    assert_error(post_bigcommerce(client, body, token, **headers_of(body)), 401, token)
    assert stored() == []


@pytest.mark.parametrize(
    "present",
    [
        ("webhook-id",),
        ("webhook-timestamp",),
        ("webhook-signature",),
        ("webhook-id", "webhook-timestamp"),
        ("webhook-id", "webhook-signature"),
        ("webhook-timestamp", "webhook-signature"),
    ],
    ids="+".join,
)
def test_incomplete_signature_headers(client: FlaskClient, token: str, stored: Rows, present: tuple[str, ...]) -> None:
    body = bigcommerce_body()
    headers = {k: v for k, v in standard_headers(body).items() if k in present}
    assert_error(post_bigcommerce(client, body, token, **headers), 401)
    assert stored() == []


def test_valid_signature_does_not_replace_the_token(client: FlaskClient, token: str, stored: Rows) -> None:
    body = bigcommerce_body()
    assert_error(post_bigcommerce(client, body, "wrong-token", **standard_headers(body)), 401)
    assert stored() == []


def test_old_timestamp_is_accepted(client: FlaskClient, token: str, stored: Rows) -> None:
    # Deliberately not enforced: retries may keep their first timestamp (see standard_webhook_valid).
    body = bigcommerce_body()
    three_days_ago = int(time.time()) - 3 * 24 * 3600
    assert_ok(post_bigcommerce(client, body, token, **standard_headers(body, timestamp=three_days_ago)))
    assert [row.delivery_id for row in stored()] == ["msg_2Kx8aQ"]


def test_several_signatures_one_valid(client: FlaskClient, token: str, stored: Rows) -> None:
    body = bigcommerce_body()
    headers = standard_headers(body)
    stale = standard_headers(body, secret="previous-client-secret")["webhook-signature"]
    headers["webhook-signature"] = f"{stale} {headers['webhook-signature']}"
    assert_ok(post_bigcommerce(client, body, token, **headers))
    assert len(stored()) == 1


def test_over_long_webhook_id_is_refused(client: FlaskClient, token: str, stored: Rows) -> None:
    body = bigcommerce_body()
    msg_id = "msg_" + "x" * 252
    assert_error(post_bigcommerce(client, body, token, **standard_headers(body, msg_id=msg_id)), 400, msg_id)
    assert stored() == []


def test_signature_headers_without_a_configured_secret(make_app: AppFactory, token: str, stored: Rows) -> None:
    client = make_app(bigcommerce_client_secret="").test_client()
    body = bigcommerce_body()
    reason = assert_error(post_bigcommerce(client, body, token, **standard_headers(body)), 503)
    assert "BIGCOMMERCE_CLIENT_SECRET" in reason
    assert stored() == []
    # Unsigned deliveries do not need the secret.
    assert_ok(post_bigcommerce(client, body, token))
