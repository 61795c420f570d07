"""What both platform endpoints share: storing a delivery and answering."""

from __future__ import annotations

import logging
from typing import NoReturn

from flask import Response, abort, current_app, g, jsonify

from integration import intake_of
from integration.events.intake import Delivery, StorageUnavailable

log = logging.getLogger("webhooks")

# Longest value we accept in a header we store: every column that holds one is this wide, so a long
# value is a clear 400 here rather than a database error (and a 503 the platform would retry forever).
MAX_HEADER_VALUE = 255


def reject(status: int, reason: str, platform: str) -> NoReturn:
    # The reason names what was wrong, never a value from the request (no PII or secrets in logs).
    log.warning("%s webhook rejected (%s): %s", platform, status, reason)
    abort(status, reason)


def unavailable(reason: str) -> NoReturn:
    """503 with Retry-After: nothing was stored, so the platform must deliver again."""
    log.error("answering 503: %s", reason)
    response = jsonify(error=reason)
    response.status_code = 503
    response.headers["Retry-After"] = "30"
    abort(response)


def bounded(value: str | None, name: str, platform: str) -> str | None:
    if value is not None and len(value) > MAX_HEADER_VALUE:
        reject(400, f"{name} is longer than {MAX_HEADER_VALUE} characters", platform)
    return value


def store_and_answer(delivery: Delivery) -> Response:
    """Store the delivery, then answer 200 (also for a duplicate); 503 if it could not be stored."""
    try:
        stored = intake_of(current_app).store(delivery)
    except StorageUnavailable as exc:
        log.error("%s webhook not stored, answering 503: %s", delivery.platform, exc)
        unavailable("database unavailable; the delivery was not stored")
    # For the ops counters (integration.ops): what was stored, never a value from the body.
    g.webhook_platform, g.webhook_topic, g.webhook_duplicate = delivery.platform, delivery.topic, stored.duplicate
    # BigCommerce asks for no body; Shopify needs none.
    return Response(status=200)
