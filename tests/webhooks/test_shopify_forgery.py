"""Cross-protocol forgery of Shopify webhooks, and the unsigned shop header.

The app secret that signs webhook bodies also signs the OAuth query and App Bridge session tokens, both
of which a merchant of *any* shop can read in their own browser. Those signatures verify as webhook
HMACs of the signed bytes, and the topic and shop headers are not signed: without more checks, a
merchant could deliver ``app/uninstalled`` for any other shop.
"""

from __future__ import annotations

import base64
import json
import time
import warnings
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from flask.testing import FlaskClient
from jwt.warnings import InsecureKeyLengthWarning

from integration.events.models import WebhookEvent
from integration.platforms.shopify.oauth import decode_session_token, query_hmac, query_hmac_valid
from tests.helpers import SHOP_DOMAIN, SHOPIFY_SECRET, post_shopify, shopify_headers
from tests.webhooks.errors import assert_error

URL = "/webhooks/shopify"
ATTACKER_SHOP = "attacker-shop.myshopify.com"
API_KEY = "test-api-key"
Rows = Callable[[], list[WebhookEvent]]


def forged_delivery(client: FlaskClient, body: bytes, digest: bytes, *, topic: str = "app/uninstalled") -> Any:
    """Deliver ``body`` as a webhook for the victim shop, with a signature made for another protocol."""
    headers = shopify_headers(body, topic=topic, shop=SHOP_DOMAIN, webhook_id="forged-1")
    headers["X-Shopify-Hmac-Sha256"] = base64.b64encode(digest).decode()
    return client.post(URL, data=body, headers=headers)


def oauth_query_signature() -> tuple[bytes, bytes]:
    """What /shopify/install receives for the attacker's own shop: the signed string and its HMAC."""
    params = {"host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYXR0YWNrZXI", "shop": ATTACKER_SHOP}
    params["timestamp"] = str(int(time.time()))
    pairs = sorted(params.items())
    hex_digest = query_hmac(pairs, SHOPIFY_SECRET.encode())
    assert query_hmac_valid([*pairs, ("hmac", hex_digest)], [SHOPIFY_SECRET.encode()])  # a genuine query
    message = "&".join(f"{k}={v}" for k, v in pairs).encode()
    return message, bytes.fromhex(hex_digest)


def session_token_signature() -> tuple[bytes, bytes]:
    """An App Bridge session token of the attacker's own shop: its signing input and signature."""
    now = int(time.time())
    claims = {
        "iss": f"https://{ATTACKER_SHOP}/admin",
        "dest": f"https://{ATTACKER_SHOP}",
        "aud": API_KEY,
        "sub": "42",
        "exp": now + 60,
        "nbf": now,
        "iat": now,
        "jti": "jti-1",
        "sid": "session-1",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        token = jwt.encode(claims, SHOPIFY_SECRET, algorithm="HS256")
    decode_session_token(token, api_key=API_KEY, secret=SHOPIFY_SECRET)  # the app accepts it as genuine
    header, payload, signature = token.split(".")
    return f"{header}.{payload}".encode(), base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))


@pytest.mark.parametrize("signed", [oauth_query_signature, session_token_signature], ids=["oauth-query", "jwt"])
@pytest.mark.parametrize("topic", ["app/uninstalled", "orders/create", "shop/redact"])
def test_bytes_signed_for_another_protocol_are_not_a_webhook(
    client: FlaskClient, stored: Rows, signed: Callable[[], tuple[bytes, bytes]], topic: str
) -> None:
    body, digest = signed()
    reason = assert_error(forged_delivery(client, body, digest, topic=topic), 400, ATTACKER_SHOP)
    assert reason == "body is not a JSON object"
    assert stored() == []


@pytest.mark.parametrize(
    "body",
    [b"", b"   ", b"[]", b'[{"id": 1}]', b'"x"', b"1", b"null", b"{", b'{"id": 1', b"{'id': 1}", b"\xff{}"],
    ids=[
        "empty",
        "blank",
        "list",
        "list-of-objects",
        "string",
        "number",
        "null",
        "brace",
        "truncated",
        "quotes",
        "bytes",
    ],
)
def test_a_body_that_is_not_a_json_object_is_400_and_not_stored(client: FlaskClient, stored: Rows, body: bytes) -> None:
    reason = assert_error(post_shopify(client, body), 400)
    assert "JSON" in reason
    assert stored() == []


def test_deep_nesting_is_a_400_not_a_500(client: FlaskClient, stored: Rows) -> None:
    body = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert_error(post_shopify(client, body), 400)
    assert stored() == []


def test_leading_whitespace_is_still_an_object(client: FlaskClient, stored: Rows) -> None:
    assert post_shopify(client, b' \r\n\t{"id": 1}').status_code == 200
    assert len(stored()) == 1


# --- the shop named in the body -----------------------------------------------------------------------


def shop_object(**fields: Any) -> bytes:
    """app/uninstalled's body: the Shop resource."""
    shop = {"id": 548380009, "name": "Demo", "domain": "shop.example.com", "myshopify_domain": SHOP_DOMAIN}
    shop.update(fields)
    return json.dumps({k: v for k, v in shop.items() if v is not None}).encode()


def compliance(topic: str, **fields: Any) -> bytes:
    payload: dict[str, Any] = {"shop_id": 548380009, "shop_domain": SHOP_DOMAIN}
    if topic != "shop/redact":
        payload |= {"customer": {"id": 207119551, "email": "person@example.com"}, "orders_to_redact": [299938]}
    payload.update(fields)
    return json.dumps({k: v for k, v in payload.items() if v is not None}).encode()


COMPLIANCE = ("shop/redact", "customers/redact", "customers/data_request")


@pytest.mark.parametrize(
    ("topic", "body"),
    [
        ("app/uninstalled", shop_object()),
        ("app/uninstalled", shop_object(myshopify_domain=SHOP_DOMAIN.upper())),
        ("app/uninstalled", shop_object(myshopify_domain=None, domain=SHOP_DOMAIN)),
        *[(topic, compliance(topic)) for topic in COMPLIANCE],
    ],
    ids=["uninstalled", "uninstalled-case", "uninstalled-domain-only", *COMPLIANCE],
)
def test_the_header_shop_named_in_the_body_is_stored(
    client: FlaskClient, stored: Rows, topic: str, body: bytes
) -> None:
    assert post_shopify(client, body, topic=topic).status_code == 200
    [row] = stored()
    assert (row.topic, row.shop, row.status) == (topic, SHOP_DOMAIN, "received")


@pytest.mark.parametrize(
    ("topic", "body"),
    [
        ("app/uninstalled", shop_object(myshopify_domain=ATTACKER_SHOP)),
        ("app/uninstalled", shop_object(myshopify_domain=None, domain="shop.example.com")),
        ("app/uninstalled", shop_object(myshopify_domain=None, domain=None)),
        ("app/uninstalled", shop_object(myshopify_domain=["x"])),
        ("app/uninstalled", b'{"id": 1, "email": "person@example.com"}'),
        *[(topic, compliance(topic, shop_domain=ATTACKER_SHOP)) for topic in COMPLIANCE],
        *[(topic, compliance(topic, shop_domain=None)) for topic in COMPLIANCE],
        ("customers/redact", compliance("customers/redact", shop_domain=f"{SHOP_DOMAIN}.evil.com")),
    ],
    ids=[
        "uninstalled-other-shop",
        "uninstalled-custom-domain-only",
        "uninstalled-no-shop",
        "uninstalled-not-a-string",
        "uninstalled-order-body",
        *[f"{t}-other-shop" for t in COMPLIANCE],
        *[f"{t}-no-shop" for t in COMPLIANCE],
        "redact-suffix",
    ],
)
def test_a_body_naming_another_shop_is_refused(client: FlaskClient, stored: Rows, topic: str, body: bytes) -> None:
    # A genuine delivery of one shop's body under another shop's header (the header is unsigned).
    reason = assert_error(post_shopify(client, body, topic=topic), 400, ATTACKER_SHOP, "person@example.com")
    assert "is not the X-Shopify-Shop-Domain shop" in reason
    assert stored() == []


def test_other_topics_need_not_name_the_shop(client: FlaskClient, stored: Rows) -> None:
    assert post_shopify(client, b'{"id": 1}', topic="orders/create").status_code == 200
    assert len(stored()) == 1
