"""Signature and token checks. Every comparison is constant-time."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable


def shopify_hmac(body: bytes, secret: bytes) -> str:
    """Base64 HMAC-SHA256 of the raw body, as Shopify sends it in ``X-Shopify-Hmac-Sha256``."""
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()


def shopify_hmac_valid(body: bytes, header: str, secrets: Iterable[bytes]) -> bool:
    """True if ``header`` signs ``body`` with any of ``secrets`` (current first, then previous)."""
    try:
        received = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    valid = False
    for secret in secrets:
        # No early exit: the time taken does not tell which secret (if any) matched.
        valid |= hmac.compare_digest(hmac.new(secret, body, hashlib.sha256).digest(), received)
    return valid


def token_matches(provided: str, stored_hash: str) -> bool:
    """Compare a per-shop webhook token with the SHA-256 we stored for it."""
    digest = hashlib.sha256(provided.encode()).hexdigest()
    return hmac.compare_digest(digest.encode(), stored_hash.encode())


def standard_webhook_signature(secret: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    """The ``v1`` signature of the Standard Webhooks spec: base64 HMAC-SHA256 of "id.timestamp.body"."""
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest()).decode()


def standard_webhook_valid(secret: bytes, msg_id: str, timestamp: str, body: bytes, header: str) -> bool:
    """True if any ``v1,<sig>`` entry of the space-separated ``webhook-signature`` header matches.

    The timestamp is signed but its age is deliberately not enforced: whether BigCommerce re-signs
    retries (which arrive up to 48 h later) is an open question (shared/platforms/bigcommerce.md §1.3),
    and a replayed delivery is a duplicate that dedupe on ``webhook-id`` already makes harmless.
    """
    expected = standard_webhook_signature(secret, msg_id, timestamp, body).encode()
    valid = False
    for entry in header.split():
        version, _, signature = entry.partition(",")
        if version == "v1":
            valid |= hmac.compare_digest(expected, signature.encode())
    return valid
