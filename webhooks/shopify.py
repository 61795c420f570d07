"""POST /webhooks/shopify"""

from __future__ import annotations

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
