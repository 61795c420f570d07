"""Signature and token checks (pure: no database, no app).

Expected values come from published vectors or are computed here independently of webhooks.signatures.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from webhooks.signatures import (
    shopify_hmac,
    shopify_hmac_valid,
    standard_webhook_signature,
    standard_webhook_valid,
    token_matches,
)

# --- Shopify: the official vectors (shared/platforms/shopify.md §8.1), verbatim ----------------------

# 1. shopify-app-js lib/webhooks/__tests__/validate.test.ts (note the space in the body).
JS_SECRET = b"test_secret_key"
JS_BODY = b'{"foo": "bar"}'
JS_HMAC = "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="

# 2. shopify-api-php tests/Webhooks/RegistryTest.php (json_encode gives no space).
PHP_SECRET = b"7008c5f4da4718b9b45d26d3fcbbb157"
PHP_BODY = b'{"foo":"bar"}'
PHP_HMAC = "+R9TwYM4mbLTk3hEAOBkpA7zW2lc9vNFmVKs2u2jtyY="
PHP_WRONG_HEADER = "whoops_this_is_wrong"

# 3. The PHP body under TEST_API_SECRET_ALT.
PHP_ALT_SECRET = b"b4f15c37e89a23d6c701f4e82a9d5f0b"
PHP_ALT_HMAC = "8Uk3/86MZf8WpVIKgh+iEAvjzdrriUBobFq5UI4sgu8="


def test_shopify_js_vector() -> None:
    assert shopify_hmac(JS_BODY, JS_SECRET) == JS_HMAC
    assert shopify_hmac_valid(JS_BODY, JS_HMAC, [JS_SECRET])


def test_shopify_php_vector() -> None:
    assert shopify_hmac(PHP_BODY, PHP_SECRET) == PHP_HMAC
    assert shopify_hmac_valid(PHP_BODY, PHP_HMAC, [PHP_SECRET])


def test_shopify_body_bytes_matter() -> None:
    # The two vectors differ only by one space in the body: the HMAC covers the raw bytes, not the JSON.
    assert not shopify_hmac_valid(JS_BODY, PHP_HMAC, [PHP_SECRET])
    assert not shopify_hmac_valid(PHP_BODY, JS_HMAC, [JS_SECRET])


def test_shopify_php_negative_vector() -> None:
    assert not shopify_hmac_valid(PHP_BODY, PHP_WRONG_HEADER, [PHP_SECRET])


def test_shopify_alternate_secret_vector_is_a_wrong_secret() -> None:
    assert shopify_hmac(PHP_BODY, PHP_ALT_SECRET) == PHP_ALT_HMAC
    # Signed with the alternate secret, checked against the real one only: refused.
    assert not shopify_hmac_valid(PHP_BODY, PHP_ALT_HMAC, [PHP_SECRET])
    # And the real signature does not pass under the alternate secret alone.
    assert not shopify_hmac_valid(PHP_BODY, PHP_HMAC, [PHP_ALT_SECRET])


# --- Shopify: rotation and malformed headers --------------------------------------------------------


def test_shopify_rotation_accepts_the_previous_secret_only_when_listed() -> None:
    current, previous = PHP_ALT_SECRET, PHP_SECRET
    signed_with_previous = PHP_HMAC
    assert not shopify_hmac_valid(PHP_BODY, signed_with_previous, [current])
    assert shopify_hmac_valid(PHP_BODY, signed_with_previous, [current, previous])


@pytest.mark.parametrize("header", [PHP_HMAC, PHP_ALT_HMAC])
def test_shopify_order_of_secrets_does_not_matter(header: str) -> None:
    forwards = shopify_hmac_valid(PHP_BODY, header, [PHP_SECRET, PHP_ALT_SECRET])
    backwards = shopify_hmac_valid(PHP_BODY, header, [PHP_ALT_SECRET, PHP_SECRET])
    assert forwards is True
    assert backwards is True


def test_shopify_secret_that_matches_nothing_among_many() -> None:
    assert not shopify_hmac_valid(PHP_BODY, JS_HMAC, [PHP_SECRET, PHP_ALT_SECRET, b"other"])


def test_shopify_empty_secret_list_is_false() -> None:
    assert shopify_hmac_valid(PHP_BODY, PHP_HMAC, []) is False
    assert shopify_hmac_valid(PHP_BODY, PHP_HMAC, iter(())) is False


def test_shopify_surrounding_whitespace_in_the_header_is_tolerated() -> None:
    assert shopify_hmac_valid(PHP_BODY, f"  {PHP_HMAC}\t", [PHP_SECRET])


@pytest.mark.parametrize(
    "header",
    [
        "",
        "not base64 at all!",
        PHP_HMAC.rstrip("="),  # padding removed: not strict base64
        PHP_HMAC[:-2] + "é=",  # a non-ASCII character
        PHP_HMAC.replace("+", "-").replace("/", "_"),  # the URL-safe alphabet is not what Shopify sends
        base64.b16encode(base64.b64decode(PHP_HMAC)).decode(),  # hex of the right digest
        PHP_HMAC + PHP_HMAC,
    ],
    ids=["empty", "garbage", "unpadded", "non-ascii", "urlsafe", "hex", "doubled"],
)
def test_shopify_malformed_header_is_false(header: str) -> None:
    assert shopify_hmac_valid(PHP_BODY, header, [PHP_SECRET]) is False


def test_shopify_truncated_digest_is_false() -> None:
    digest = base64.b64decode(PHP_HMAC)
    assert shopify_hmac_valid(PHP_BODY, base64.b64encode(digest[:16]).decode(), [PHP_SECRET]) is False


# --- per-shop webhook tokens ------------------------------------------------------------------------


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def test_token_matches_its_stored_hash() -> None:
    assert token_matches("tok-123", sha256_hex("tok-123"))


@pytest.mark.parametrize("provided", ["tok-124", "", "TOK-123", "tok-123 ", sha256_hex("tok-123")])
def test_token_does_not_match_anything_else(provided: str) -> None:
    # Includes the hash itself: knowing what we store is not knowing the token.
    assert not token_matches(provided, sha256_hex("tok-123"))


def test_token_never_matches_the_placeholder_for_unknown_stores() -> None:
    assert not token_matches("", "0" * 64)
    assert not token_matches("anything", "0" * 64)


def test_token_with_non_ascii_characters() -> None:
    assert token_matches("tök-✓", sha256_hex("tök-✓"))
    assert not token_matches("tok-✓", sha256_hex("tök-✓"))


# --- Standard Webhooks (BigCommerce signed deliveries) ----------------------------------------------

SECRET = b"bc_test_client_secret"
MSG_ID = "msg_2Kx8aQ"
TIMESTAMP = "1700000000"
BODY = b'{"scope":"store/order/created","producer":"stores/abc123","hash":"h1"}'


def expected_signature(secret: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    """Computed here, not with the code under test: base64 HMAC-SHA256 of f"{id}.{ts}.{body}"."""
    mac = hmac.new(secret, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def test_standard_webhook_official_vector() -> None:
    # standard-webhooks/standard-webhooks libraries/python/tests/test_webhooks.py::test_sign_function:
    # the key is the base64-decoded secret (BigCommerce's sample base64-encodes the client secret first,
    # so for us the key is the raw client-secret bytes).
    key = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    msg_id, timestamp, body = "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", b'{"test": 2432232314}'
    expected = "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert standard_webhook_signature(key, msg_id, timestamp, body) == expected
    assert standard_webhook_valid(key, msg_id, timestamp, body, f"v1,{expected}")
    # The library's own "invalid signature" case differs in the last character.
    assert not standard_webhook_valid(key, msg_id, timestamp, body, f"v1,{expected[:-2]}A=")


def test_standard_webhook_signature_matches_independent_computation() -> None:
    assert standard_webhook_signature(SECRET, MSG_ID, TIMESTAMP, BODY) == expected_signature(
        SECRET, MSG_ID, TIMESTAMP, BODY
    )


def test_standard_webhook_valid() -> None:
    header = "v1," + expected_signature(SECRET, MSG_ID, TIMESTAMP, BODY)
    assert standard_webhook_valid(SECRET, MSG_ID, TIMESTAMP, BODY, header) is True


def test_standard_webhook_tampered_body() -> None:
    header = "v1," + expected_signature(SECRET, MSG_ID, TIMESTAMP, BODY)
    tampered = BODY.replace(b"h1", b"h2")
    assert standard_webhook_valid(SECRET, MSG_ID, TIMESTAMP, tampered, header) is False


def test_standard_webhook_id_and_timestamp_are_signed() -> None:
    header = "v1," + expected_signature(SECRET, MSG_ID, TIMESTAMP, BODY)
    assert not standard_webhook_valid(SECRET, "msg_other", TIMESTAMP, BODY, header)
    assert not standard_webhook_valid(SECRET, MSG_ID, "1700000001", BODY, header)


def test_standard_webhook_wrong_secret() -> None:
    header = "v1," + expected_signature(b"some other secret", MSG_ID, TIMESTAMP, BODY)
    assert standard_webhook_valid(SECRET, MSG_ID, TIMESTAMP, BODY, header) is False


def test_standard_webhook_secret_is_used_raw_not_base64_decoded() -> None:
    # A secret that happens to be valid base64 must still be used as its raw bytes.
    secret = b"YWJjZA=="
    header = "v1," + expected_signature(base64.b64decode(secret), MSG_ID, TIMESTAMP, BODY)
    assert not standard_webhook_valid(secret, MSG_ID, TIMESTAMP, BODY, header)


def test_standard_webhook_one_valid_entry_among_several() -> None:
    valid = "v1," + expected_signature(SECRET, MSG_ID, TIMESTAMP, BODY)
    wrong = "v1," + expected_signature(b"old secret", MSG_ID, TIMESTAMP, BODY)
    assert standard_webhook_valid(SECRET, MSG_ID, TIMESTAMP, BODY, f"{wrong} {valid}")
    assert standard_webhook_valid(SECRET, MSG_ID, TIMESTAMP, BODY, f"{valid} {wrong}")
    assert standard_webhook_valid(SECRET, MSG_ID, TIMESTAMP, BODY, f"{wrong}  {valid} {wrong}")
    assert not standard_webhook_valid(SECRET, MSG_ID, TIMESTAMP, BODY, f"{wrong} {wrong}")


@pytest.mark.parametrize("version", ["v2", "v1a", "V1", "", "v1 "])
def test_standard_webhook_entries_of_other_versions_are_ignored(version: str) -> None:
    signature = expected_signature(SECRET, MSG_ID, TIMESTAMP, BODY)
    assert standard_webhook_valid(SECRET, MSG_ID, TIMESTAMP, BODY, f"{version},{signature}") is False


def test_standard_webhook_v2_entry_beside_a_wrong_v1_is_still_refused() -> None:
    signature = expected_signature(SECRET, MSG_ID, TIMESTAMP, BODY)
    wrong = expected_signature(b"old secret", MSG_ID, TIMESTAMP, BODY)
    assert not standard_webhook_valid(SECRET, MSG_ID, TIMESTAMP, BODY, f"v2,{signature} v1,{wrong}")
    assert standard_webhook_valid(SECRET, MSG_ID, TIMESTAMP, BODY, f"v2,{wrong} v1,{signature}")


@pytest.mark.parametrize("header", ["", " ", "v1,", "v1", "garbage"])
def test_standard_webhook_malformed_header(header: str) -> None:
    assert standard_webhook_valid(SECRET, MSG_ID, TIMESTAMP, BODY, header) is False


def test_standard_webhook_bare_signature_without_version_is_refused() -> None:
    signature = expected_signature(SECRET, MSG_ID, TIMESTAMP, BODY)
    assert standard_webhook_valid(SECRET, MSG_ID, TIMESTAMP, BODY, signature) is False
