"""POST /webhooks/shopify

The HMAC proves the app secret signed these bytes, not that they are a webhook: the same secret signs
the OAuth query (``/shopify/install``, ``/shopify/callback``) and the App Bridge session tokens any
merchant can read in their own browser, and the topic, shop and webhook id headers are not signed at
all. So a delivery is also held to what only a webhook looks like: its body is a JSON object, and the
topics that act on a whole shop or on a person's data name, in the signed body, the shop the (unsigned)
header names. Neither an OAuth query string nor a JWT is a JSON object, and no body Shopify signed for
one shop names another.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, request

from integration import runtime_of
from integration.events.intake import Delivery
from integration.platforms.edge import SHOPIFY_TOPICS_STORED as TOPICS_STORED
from integration.platforms.edge import SHOPIFY_WEBHOOK_TOPICS as WEBHOOK_TOPICS
from integration.platforms.edge import parse_timestamp, valid_shop_domain
from webhooks import bp
from webhooks.common import bounded, reject, store_and_answer
from webhooks.signatures import shopify_hmac_valid

PLATFORM = "shopify"
# Topics whose body must name the header's shop, and the body fields that may name it (first present
# wins). app/uninstalled carries the Shop object (``domain`` may be a custom domain, so it is only a
# fallback); the compliance topics carry ``shop_domain``.
SHOP_NAMED_IN_BODY: dict[str, tuple[str, ...]] = {
    "app/uninstalled": ("myshopify_domain", "domain"),
    "shop/redact": ("shop_domain",),
    "customers/redact": ("shop_domain",),
    "customers/data_request": ("shop_domain",),
}
_JSON_SPACE = b" \t\r\n"


def _header(environ: dict[str, Any], name: str) -> str | None:
    """Shopify's headers come as ``X-Shopify-<Name>`` or, for Events deliveries, ``shopify-<name>``.

    Read from the WSGI environ, where the server has already folded case and dashes
    (``HTTP_X_SHOPIFY_TOPIC``); this is the hot path and proxy lookups add up.
    """
    value = environ.get("HTTP_X_SHOPIFY_" + name) or environ.get("HTTP_SHOPIFY_" + name)
    return bounded(value.strip() if value else None, name, PLATFORM)


def _required(environ: dict[str, Any], name: str) -> str:
    value = _header(environ, name)
    if not value:
        reject(400, f"missing X-Shopify-{name.title().replace('_', '-')} header", PLATFORM)
    return value


def _json_object(body: bytes) -> dict[str, Any]:
    # The first byte settles every cross-protocol body (a query string, a JWT) without parsing it; the
    # parse (tens of microseconds for an order) settles the rest, so a stored body is always readable.
    if body.lstrip(_JSON_SPACE)[:1] != b"{":
        reject(400, "body is not a JSON object", PLATFORM)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        reject(400, "body is not valid JSON", PLATFORM)
    if not isinstance(payload, dict):
        reject(400, "body is not a JSON object", PLATFORM)
    return payload


def _check_shop_named(topic: str, shop: str, payload: dict[str, Any]) -> None:
    fields = SHOP_NAMED_IN_BODY.get(topic)
    if fields is None:
        return
    named = next((payload[f] for f in fields if payload.get(f) is not None), None)
    if not isinstance(named, str) or named.strip().lower() != shop:
        # Never the values themselves: the reason names the fields only.
        reject(400, f"the body's {' / '.join(fields)} is not the X-Shopify-Shop-Domain shop", PLATFORM)


@bp.post("/shopify")
def receive_shopify() -> Response:
    environ = request.environ
    secrets = runtime_of(current_app).settings.shopify_secrets
    if not secrets:
        reject(503, "SHOPIFY_API_SECRET is not configured; cannot verify deliveries", PLATFORM)
    body = request.get_data(cache=False)  # raw bytes: the HMAC covers them exactly as sent
    signature = environ.get("HTTP_X_SHOPIFY_HMAC_SHA256") or environ.get("HTTP_SHOPIFY_HMAC_SHA256")
    if not signature:
        reject(401, "missing X-Shopify-Hmac-Sha256 header", PLATFORM)
    if not shopify_hmac_valid(body, signature, secrets):
        reject(401, "invalid HMAC signature", PLATFORM)

    topic = _required(environ, "TOPIC")
    shop = _required(environ, "SHOP_DOMAIN").lower()
    webhook_id = _required(environ, "WEBHOOK_ID")
    if not valid_shop_domain(shop):
        reject(400, "X-Shopify-Shop-Domain is not a valid *.myshopify.com domain", PLATFORM)
    _check_shop_named(topic, shop, _json_object(body))
    known = topic in WEBHOOK_TOPICS or topic in TOPICS_STORED
    return store_and_answer(
        Delivery(
            platform=PLATFORM,
            shop=shop,
            topic=topic,
            webhook_id=webhook_id,
            dedupe_key=webhook_id,
            body=body,
            event_id=_header(environ, "EVENT_ID"),
            api_version=_header(environ, "API_VERSION"),
            triggered_at=parse_timestamp(_header(environ, "TRIGGERED_AT")),
            subscription_name=_header(environ, "NAME"),
            ignored_reason=None if known else f"topic {topic!r} is not one we handle",
        )
    )
