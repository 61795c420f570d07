"""POST /webhooks/bigcommerce (and /webhooks/bigcommerce/delivery-exception)"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from flask import Response, current_app, request

from integration import intake_of, runtime_of
from integration.events.intake import Delivery, StorageUnavailable
from integration.platforms.edge import BIGCOMMERCE_WEBHOOK_SCOPES as WEBHOOK_SCOPES
from integration.platforms.edge import store_hash_from_producer
from webhooks import bp
from webhooks.common import bounded, reject, store_and_answer, unavailable
from webhooks.signatures import standard_webhook_valid, token_matches

PLATFORM = "bigcommerce"
TOKEN_HEADER = "X-Webhook-Token"  # noqa: S105 - a header name, not a secret
# BigCommerce's deliveries are thin (a scope, ids and a hash: under 1 KB), so anything much larger is
# not theirs; the cap keeps what an unauthenticated sender can make us read and parse small.
MAX_BODY_BYTES = 64 * 1024
STANDARD_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def _payload(body: bytes) -> dict[str, Any]:
    # Unlike Shopify, the store is named only inside the body, so an unreadable body cannot be
    # authenticated, and is refused rather than stored.
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        reject(400, "body is not JSON; cannot tell which store sent it", PLATFORM)
    if not isinstance(payload, dict):
        reject(400, "body is not a JSON object", PLATFORM)
    return payload


def _created_at(payload: dict[str, Any]) -> dt.datetime | None:
    value = payload.get("created_at")
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 2**33:
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return None


def _verify_standard_webhook(body: bytes) -> str | None:
    """Check Standard Webhooks headers when BigCommerce sends them; returns the webhook-id."""
    present = [request.headers.get(name) for name in STANDARD_HEADERS]
    if not any(present):
        return None
    msg_id, timestamp, signature = present
    if not (msg_id and timestamp and signature):
        reject(401, "incomplete webhook-id / webhook-timestamp / webhook-signature headers", PLATFORM)
    secret = runtime_of(current_app).settings.bigcommerce_client_secret
    if not secret:
        reject(503, "BIGCOMMERCE_CLIENT_SECRET is not configured; cannot verify signatures", PLATFORM)
    if not standard_webhook_valid(secret.encode(), msg_id, timestamp, body, signature):
        reject(401, "invalid webhook-signature", PLATFORM)
    return bounded(msg_id, "webhook-id", PLATFORM)


@bp.post("/bigcommerce")
# store/hook/deliveryException must go to a destination no other hook uses; it is checked and stored alike.
@bp.post("/bigcommerce/delivery-exception")
def receive_bigcommerce() -> Response:
    # The store is named only inside the body, so the token cannot be checked before parsing it; but a
    # delivery without any token is refused before a byte of the body is read.
    provided = request.headers.get(TOKEN_HEADER, "")
    if not provided.strip():
        reject(401, f"missing {TOKEN_HEADER} header", PLATFORM)
    # Flask 3.1: a per-request limit, below the app's MAX_CONTENT_LENGTH that Shopify's bodies need.
    request.max_content_length = min(MAX_BODY_BYTES, runtime_of(current_app).settings.max_webhook_bytes)
    body = request.get_data(cache=False)  # 413 past the limit (Content-Length, or as the stream is read)
    payload = _payload(body)
    store_hash = store_hash_from_producer(payload.get("producer"))
    if store_hash is None:
        reject(400, "producer must be 'stores/{store_hash}'", PLATFORM)
    scope = payload.get("scope")
    if not isinstance(scope, str) or not scope:
        reject(400, "scope is missing", PLATFORM)
    bounded(scope, "scope", PLATFORM)

    try:
        expected = intake_of(current_app).webhook_token_hash(PLATFORM, store_hash)
    except StorageUnavailable:
        unavailable("database unavailable; the delivery was not stored")
    # One comparison whether or not the store exists, so timing does not reveal which stores we know.
    if not token_matches(provided, expected or "0" * 64) or expected is None:
        reject(401, "unknown store or wrong webhook token", PLATFORM)
    delivery_id = _verify_standard_webhook(body)

    event_hash = payload.get("hash")
    if isinstance(event_hash, str) and event_hash:
        marker = bounded(event_hash, "hash", PLATFORM) or ""
    else:
        marker = "sha256:" + hashlib.sha256(body).hexdigest()
    return store_and_answer(
        Delivery(
            platform=PLATFORM,
            shop=store_hash,
            topic=scope,
            webhook_id=delivery_id or marker,
            dedupe_key=f"{scope}:{marker}",
            delivery_id=delivery_id,
            body=body,
            triggered_at=_created_at(payload),
            ignored_reason=None if scope in WEBHOOK_SCOPES else f"scope {scope!r} is not one we handle",
        )
    )
