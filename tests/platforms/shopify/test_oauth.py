"""Shopify OAuth pieces without a server: the query HMAC (research §8.2 vectors), the signed-request
checks (timestamp, shop domain) and App Bridge session tokens."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

import jwt
import pytest

from integration.platforms.shopify.oauth import (
    OAuthError,
    authorize_url,
    decode_session_token,
    query_hmac,
    query_hmac_valid,
    verify_signed_query,
)

SECRET = "shpss_0123456789abcdef0123456789abcdef"
KEY = "app-key"
SHOP = "demo-shop.myshopify.com"


# -- §8.2 vectors


def test_vector_1_docs_example() -> None:
    pairs = [
        ("shop", "some-shop.myshopify.com"),
        ("code", "a94a110d86d2452eb3e2af4cfb8a3828"),
        ("timestamp", "1337178173"),
    ]
    assert query_hmac(pairs, b"hush") == "2cb1a277650a659f1b11e92a4a64275b128e037f2c3390e3c8fd2d8721dac9e2"


def test_vector_2_array_params() -> None:
    pairs = [("shop", "some-shop.myshopify.com"), ("ids[]", "2"), ("ids[]", "1")]
    assert query_hmac(pairs, b"hush") == "b93b9f82996f6f8bf9f1b7bbddec284c8fabacdc4e12dc80550b4705f3003b1e"


def test_vector_3_ampersand_and_equals_escaped() -> None:
    pairs = [("a", "1&b=2"), ("c=3&d", "4")]
    assert query_hmac(pairs, b"secret") == "8de3c7e965d22fa21e059868e4004f5b6fbdcef293d1622ff9408edd6325bc6b"


def test_vector_4_full_query_verifies_and_tampering_fails() -> None:
    query = (
        "code=0907a61c0c8d55e99db179b68161bc00&hmac=4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20"
        "&shop=some-shop.myshopify.com&timestamp=1337178173"
    )
    assert query_hmac_valid(parse_qsl(query), [b"hush"])
    assert not query_hmac_valid(parse_qsl(query.replace("some-shop", "evil-shop")), [b"hush"])
    assert not query_hmac_valid(parse_qsl(query), [b"wrong"])
    # The previous secret still verifies during a rotation.
    assert query_hmac_valid(parse_qsl(query), [b"new-secret", b"hush"])


def test_vector_5_js_encoded_form() -> None:
    pairs = [
        ("code", "some code goes here"),
        ("shop", "the shop URL"),
        ("state", "some nonce passed from auth"),
        ("timestamp", "1700000000"),
        ("hmac", "10207991f5c2c65c114b70a3c3544ce1d00a236ea4ab034793de0d6407be9165"),
    ]
    assert query_hmac_valid(pairs, [b"my super secret key"])


@pytest.mark.parametrize("hmac_value", ["", "zz", "4712bf92", "not hex at all"])
def test_malformed_hmac_is_invalid(hmac_value: str) -> None:
    assert not query_hmac_valid([("shop", SHOP), ("hmac", hmac_value)], [b"hush"])


def test_two_hmac_params_are_invalid() -> None:
    pairs = [("shop", SHOP), ("timestamp", "1")]
    digest = query_hmac(pairs, b"k")
    assert query_hmac_valid([*pairs, ("hmac", digest)], [b"k"])
    assert not query_hmac_valid([*pairs, ("hmac", digest), ("hmac", digest)], [b"k"])


# -- signed requests


def signed(params: dict[str, str], secret: str = SECRET) -> list[tuple[str, str]]:
    pairs = list(params.items())
    return [*pairs, ("hmac", query_hmac(pairs, secret.encode()))]


def test_fresh_signed_request_names_the_shop() -> None:
    now = int(time.time())
    assert verify_signed_query(signed({"shop": SHOP, "timestamp": str(now)}), [SECRET.encode()]) == SHOP


@pytest.mark.parametrize("offset", [-91, 91, -3600, 86400])
def test_timestamp_more_than_90_seconds_away_is_refused(offset: int) -> None:
    stamp = str(int(time.time()) + offset)
    with pytest.raises(OAuthError, match="too old"):
        verify_signed_query(signed({"shop": SHOP, "timestamp": stamp}), [SECRET.encode()])


@pytest.mark.parametrize("stamp", ["", "abc", "-5", "1e9", "99999999999999"])
def test_malformed_timestamp_is_refused(stamp: str) -> None:
    with pytest.raises(OAuthError):
        verify_signed_query(signed({"shop": SHOP, "timestamp": stamp}), [SECRET.encode()])


@pytest.mark.parametrize(
    "shop",
    [
        "evil.com",
        "evil.com/.myshopify.com",
        "evil.com?.myshopify.com",
        "evil.com#.myshopify.com",
        "evil.com\\.myshopify.com",
        "demo.myshopify.com.evil.com",
        "demo.myshopify.com@evil.com",
        "user@demo.myshopify.com",
        "demo.myshopify.com:8080",
        "demo.myshopify.com/admin",
        "//evil.com",
        "https://demo.myshopify.com",
        "-demo.myshopify.com",
        "demo..myshopify.com",
        "a.b.myshopify.com",
        "demo.myshopify.com\n",
        "demo.myshopify.com%2F.evil.com",
        "dem\u212a.myshopify.com",
        "",
    ],
)
def test_bad_shop_domains_are_refused_even_when_signed(shop: str) -> None:
    with pytest.raises(OAuthError, match="shop"):
        verify_signed_query(signed({"shop": shop, "timestamp": str(int(time.time()))}), [SECRET.encode()])


def test_unsigned_or_wrongly_signed_request_is_refused() -> None:
    params = {"shop": SHOP, "timestamp": str(int(time.time()))}
    with pytest.raises(OAuthError, match="signature"):
        verify_signed_query(list(params.items()), [SECRET.encode()])
    with pytest.raises(OAuthError, match="signature"):
        verify_signed_query(signed(params, "other-secret"), [SECRET.encode()])
    with pytest.raises(OAuthError, match="not configured"):
        verify_signed_query(signed(params), [])


def test_authorize_url_is_on_the_shop_admin() -> None:
    url = authorize_url(
        "https://{shop}", SHOP, client_id=KEY, scopes="read_orders", redirect_uri="https://app/cb", state="n1"
    )
    assert url.startswith(f"https://{SHOP}/admin/oauth/authorize?")
    assert dict(parse_qsl(url.split("?", 1)[1])) == {
        "client_id": KEY,
        "scope": "read_orders",
        "redirect_uri": "https://app/cb",
        "state": "n1",
    }
    with pytest.raises(OAuthError):
        authorize_url("https://{shop}", "evil.com/.myshopify.com", client_id=KEY, scopes="", redirect_uri="", state="")


# -- session tokens


def token(secret: str = SECRET, **claims: object) -> str:
    now = int(time.time())
    payload: dict[str, object] = {
        "iss": f"https://{SHOP}/admin",
        "dest": f"https://{SHOP}",
        "aud": KEY,
        "sub": "42",
        "exp": now + 60,
        "nbf": now,
        "iat": now,
        "jti": "j",
        "sid": "s",
    }
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, secret, algorithm="HS256")


def test_valid_session_token_names_shop_and_user() -> None:
    claims = decode_session_token(token(), api_key=KEY, secret=SECRET)
    assert (claims.shop, claims.user_id, claims.session_id) == (SHOP, "42", "s")


def test_a_dest_with_a_trailing_slash_still_wants_the_admin_issuer() -> None:
    claims = decode_session_token(token(dest=f"https://{SHOP}/"), api_key=KEY, secret=SECRET)
    assert (claims.shop, claims.user_id) == (SHOP, "42")


def test_small_clock_skew_is_tolerated() -> None:
    now = int(time.time())
    decode_session_token(token(nbf=now + 3, iat=now + 3), api_key=KEY, secret=SECRET)
    decode_session_token(token(exp=now - 2), api_key=KEY, secret=SECRET)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: token(secret="shpss_forged_forged_forged_forged_forged"), "not valid"),
        (lambda: token(exp=int(time.time()) - 30), "expired"),
        (lambda: token(nbf=int(time.time()) + 60), "not valid"),
        (lambda: token(aud="another-app"), "not valid"),
        (lambda: token(aud=None), "not valid"),
        (lambda: token(exp=None), "not valid"),
        (lambda: token(dest=None), "not valid"),
        (lambda: token(sub=None), "not valid"),
        (lambda: token(dest="https://evil.com"), "shop"),
        (lambda: token(dest="https://evil.com/.myshopify.com"), "shop"),
        (lambda: token(dest="http://demo-shop.myshopify.com"), "shop"),
        (lambda: token(dest="https://demo-shop.myshopify.com@evil.com"), "shop"),
        (lambda: token(iss="https://other-shop.myshopify.com/admin"), "issuer"),
        # Only the admin issues staff tokens: a token without an issuer, or from another Shopify surface
        # (a checkout or customer-account extension of this app, signed with the same secret), is no staff
        # sign-in, even when its dest looks like a shop's.
        (lambda: token(iss=None), "not valid"),
        (lambda: token(iss=f"https://{SHOP}/checkouts"), "issuer"),
        (lambda: token(iss=f"https://{SHOP}/account"), "issuer"),
        (lambda: token(iss=f"https://{SHOP}"), "issuer"),
        (lambda: token(iss=f"https://{SHOP}/admin/"), "issuer"),
        # The staff user is Shopify's numeric user id; a customer GID (customer-account tokens) or anything
        # else is nobody we sign in.
        (lambda: token(sub="gid://shopify/Customer/7001"), "user"),
        (lambda: token(iss=None, sub="gid://shopify/Customer/7001"), "not valid"),
        (lambda: token(sub=""), "user"),
        (lambda: token(sub=" 42"), "user"),
        (lambda: token(sub="42a"), "user"),
        (lambda: token(sub="\u0664\u0662"), "user"),  # Arabic-Indic digits: str.isdigit() says yes
        (lambda: token(sub="1" * 40), "user"),
        (
            lambda: jwt.encode({"dest": f"https://{SHOP}", "aud": KEY, "sub": "1"}, key="", algorithm="none"),
            "not valid",
        ),
        (lambda: "not-a-jwt", "not valid"),
    ],
)
def test_bad_session_tokens_are_refused(make: object, reason: str) -> None:
    raw = make()  # type: ignore[operator]
    with pytest.raises(OAuthError, match=reason) as info:
        decode_session_token(raw, api_key=KEY, secret=SECRET)
    assert raw not in str(info.value)
