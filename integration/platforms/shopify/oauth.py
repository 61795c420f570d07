"""Shopify OAuth: the signed query strings of install and callback, the token endpoint (code grant,
rotating refresh, token exchange for an offline or an online token), and App Bridge session tokens
(research: shared/platforms/shopify.md §4.1, next-capabilities.md §1).

Nothing here logs or puts into an exception message a token, a code, a refresh token or a JWT: errors
name what failed and, at most, Shopify's short error code (``invalid_grant``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import jwt
import requests
from jwt.warnings import InsecureKeyLengthWarning

from integration.platforms.interfaces import GrantedToken, TokenRefused, TransientPlatformError
from integration.platforms.shopify.topics import valid_shop_domain

# Shopify's libraries reject an install or callback whose timestamp is more than 90 s from now.
MAX_CLOCK_SKEW = 90
# App Bridge session tokens live a minute; a few seconds of leeway for clocks that disagree.
SESSION_TOKEN_LEEWAY = 5
# A staff user id in an admin session token's ``sub``: Shopify's numeric user id (a string of digits).
STAFF_USER_ID = re.compile(r"[0-9]{1,20}")
TIMEOUT = (5.0, 20.0)
_MAX_ERROR_CODE = 64


class OAuthError(Exception):
    """A signed request, grant or session token we do not accept (the message is safe to show)."""


# ---------------------------------------------------------------------------------- query HMAC


def _python_style(pairs: Sequence[tuple[str, str]]) -> str | None:
    """The string ``shopify_python_api`` signs: decoded values, ``%``/``&`` escaped (and ``=`` in keys),
    ``key[]`` values gathered into a JSON list under ``key``. None for a repeated plain key."""
    values: dict[str, str | list[str]] = {}
    for key, value in pairs:
        if key.endswith("[]"):
            bucket = values.setdefault(key[:-2], [])
            if not isinstance(bucket, list):
                return None
            bucket.append(value)
        elif key in values:
            return None
        else:
            values[key] = value

    def escape(text: str, *, is_key: bool) -> str:
        text = text.replace("%", "%25").replace("&", "%26")
        return text.replace("=", "%3D") if is_key else text

    parts = []
    for key in sorted(values):
        raw = values[key]
        value = json.dumps(raw) if isinstance(raw, list) else raw
        parts.append(f"{escape(key, is_key=True)}={escape(value, is_key=False)}")
    return "&".join(parts)


def _js_style(pairs: Sequence[tuple[str, str]]) -> str:
    """The string ``shopify-app-js`` signs: sorted, URLSearchParams-encoded, spaces as ``%20``."""
    ordered = sorted(pairs, key=lambda kv: kv[0])
    return "&".join(f"{quote(k, safe='*-._')}={quote(v, safe='*-._')}" for k, v in ordered)


def query_hmac(pairs: Iterable[tuple[str, str]], secret: bytes) -> str:
    """Hex HMAC-SHA256 of the query as ``shopify_python_api`` signs it (``hmac``/``signature`` left out)."""
    message = _python_style([(k, v) for k, v in pairs if k not in ("hmac", "signature")])
    if message is None:
        raise OAuthError("a query parameter is repeated")
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


def query_hmac_valid(pairs: Iterable[tuple[str, str]], secrets: Iterable[bytes]) -> bool:
    """True when the query's ``hmac`` (hex) signs the other parameters with one of ``secrets``.

    Shopify's own libraries build the signed string two ways (decoded values, or URL-encoded ones);
    they agree on every value Shopify sends (hex codes, domains, digits), and either is accepted.
    """
    items = list(pairs)
    received = [v for k, v in items if k == "hmac"]
    if len(received) != 1:
        return False
    try:
        digest = bytes.fromhex(received[0])
    except ValueError:
        return False
    signed = [(k, v) for k, v in items if k not in ("hmac", "signature")]
    messages = [m for m in (_python_style(signed), _js_style(signed)) if m is not None]
    valid = False
    for secret in secrets:
        for message in messages:
            # No early exit: the time taken does not tell which form or secret matched.
            valid |= hmac.compare_digest(hmac.new(secret, message.encode(), hashlib.sha256).digest(), digest)
    return valid


def timestamp_fresh(raw: str | None, *, now: float | None = None, skew: int = MAX_CLOCK_SKEW) -> bool:
    if raw is None or not raw.isdigit() or len(raw) > 12:
        return False
    current = time.time() if now is None else now
    return abs(current - int(raw)) <= skew


def verify_signed_query(pairs: Iterable[tuple[str, str]], secrets: Iterable[bytes], *, now: float | None = None) -> str:
    """Check a request Shopify signed (install, callback): HMAC, timestamp and shop. Returns the shop
    domain (lower case); raises :class:`OAuthError` with a reason safe to show otherwise."""
    items = list(pairs)
    secrets = tuple(secrets)
    if not secrets:
        raise OAuthError("the app's Shopify secret is not configured")
    if not query_hmac_valid(items, secrets):
        raise OAuthError("the request's signature is not valid")
    stamps = [v for k, v in items if k == "timestamp"]
    if len(stamps) != 1 or not timestamp_fresh(stamps[0], now=now):
        raise OAuthError("the request is too old (or its clock is off): open the app from Shopify again")
    shops = [v for k, v in items if k == "shop"]
    if len(shops) != 1 or not valid_shop_domain(shops[0]):
        raise OAuthError("the shop is not a valid *.myshopify.com domain")
    return shops[0].lower()


# ------------------------------------------------------------------------------------- endpoints


def admin_base(admin_url_template: str, shop: str) -> str:
    """``https://{shop}`` for a validated shop (the only host a token or the merchant is sent to)."""
    if not valid_shop_domain(shop):
        raise OAuthError("the shop is not a valid *.myshopify.com domain")
    return admin_url_template.format(shop=shop.lower()).rstrip("/")


def authorize_url(
    admin_url_template: str, shop: str, *, client_id: str, scopes: str, redirect_uri: str, state: str
) -> str:
    """Where the merchant approves the app: an offline (shop-wide) grant, no ``grant_options[]``."""
    query = urlencode({"client_id": client_id, "scope": scopes, "redirect_uri": redirect_uri, "state": state})
    return f"{admin_base(admin_url_template, shop)}/admin/oauth/authorize?{query}"


def is_admin_url(url: str, admin_url_template: str, shop: str) -> bool:
    """True when ``url`` is on the shop's admin origin (for redirect checks in tests and callers)."""
    base = urlsplit(admin_base(admin_url_template, shop))
    target = urlsplit(url)
    return (target.scheme, target.netloc) == (base.scheme, base.netloc)


def _expiry(now: dt.datetime, seconds: object) -> dt.datetime | None:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        return None
    return now + dt.timedelta(seconds=float(seconds))


def _error_code(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    code = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(code, str) and code.replace("_", "").isalnum() and len(code) <= _MAX_ERROR_CODE:
        return f"HTTP {response.status_code} {code}"
    return f"HTTP {response.status_code}"


def _post_json(url: str, payload: Mapping[str, Any], what: str, session: requests.Session | None) -> Mapping[str, Any]:
    """POST to the token endpoint; its JSON object. Raises TransientPlatformError or TokenRefused."""
    sender = session or requests
    try:
        response = sender.post(url, json=dict(payload), headers={"Accept": "application/json"}, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise TransientPlatformError(f"Shopify {what}: {type(exc).__name__}") from None
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientPlatformError(f"Shopify {what}: HTTP {response.status_code}")
    if response.status_code >= 400:
        raise TokenRefused(f"Shopify {what} refused: {_error_code(response)}")
    try:
        body = response.json()
    except ValueError:
        raise TransientPlatformError(f"Shopify {what}: the answer is not JSON") from None
    if not isinstance(body, Mapping):
        raise TokenRefused(f"Shopify {what}: the answer is not a JSON object")
    return body


def _granted(body: Mapping[str, Any], now: dt.datetime, what: str) -> GrantedToken:
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise TokenRefused(f"Shopify {what}: the answer has no access token")
    refresh = body.get("refresh_token")
    scope = body.get("scope")
    return GrantedToken(
        access_token=token,
        scopes=scope if isinstance(scope, str) else None,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        access_expires_at=_expiry(now, body.get("expires_in")),
        refresh_expires_at=_expiry(now, body.get("refresh_token_expires_in")),
    )


def _post_token(url: str, payload: Mapping[str, Any], what: str, session: requests.Session | None) -> GrantedToken:
    now = dt.datetime.now(dt.UTC)
    return _granted(_post_json(url, payload, what, session), now, what)


def _token_endpoint(
    admin_url_template: str,
    shop: str,
    client_id: str,
    client_secret: str,
    fields: Mapping[str, str],
    what: str,
    session: requests.Session | None,
) -> GrantedToken:
    """One call to the shop's ``/admin/oauth/access_token`` (every grant: code, refresh, exchange)."""
    url = f"{admin_base(admin_url_template, shop)}/admin/oauth/access_token"
    return _post_token(url, {"client_id": client_id, "client_secret": client_secret, **fields}, what, session)


def exchange_code(
    admin_url_template: str,
    shop: str,
    code: str,
    *,
    client_id: str,
    client_secret: str,
    session: requests.Session | None = None,
) -> GrantedToken:
    """The callback's code for an expiring offline token (``expiring=1``: 60 min, rotating refresh)."""
    fields = {"code": code, "expiring": "1"}
    return _token_endpoint(admin_url_template, shop, client_id, client_secret, fields, "code exchange", session)


def refresh_token(
    admin_url_template: str,
    shop: str,
    token: str,
    *,
    client_id: str,
    client_secret: str,
    session: requests.Session | None = None,
) -> GrantedToken:
    """A new access token and a new refresh token (the old refresh token is used up)."""
    fields = {"grant_type": "refresh_token", "refresh_token": token}
    return _token_endpoint(admin_url_template, shop, client_id, client_secret, fields, "token refresh", session)


# Token exchange (RFC 8693 as Shopify uses it): the grant, what we give (an ID token), what we want.
EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
SUBJECT_IS_ID = "urn:ietf:params:oauth:token-type:id_token"
WANT_OFFLINE = "urn:shopify:params:oauth:token-type:offline-access-token"
WANT_ONLINE = "urn:shopify:params:oauth:token-type:online-access-token"


def exchange_session_token(
    admin_url_template: str,
    shop: str,
    session_token: str,
    *,
    client_id: str,
    client_secret: str,
    session: requests.Session | None = None,
) -> GrantedToken:
    """Token exchange: a staff member's App Bridge session token for a new expiring offline token.

    How a Shopify-managed install completes (Shopify installs the app without calling us; the first
    open of the app brings the session token), and what heals a shop whose refresh token Shopify
    refused: the merchant opens the app, and their session token proves the shop still has it.
    """
    fields = {
        "grant_type": EXCHANGE_GRANT,
        "subject_token": session_token,
        "subject_token_type": SUBJECT_IS_ID,
        "requested_token_type": WANT_OFFLINE,
        "expiring": "1",
    }
    return _token_endpoint(admin_url_template, shop, client_id, client_secret, fields, "token exchange", session)


@dataclass(frozen=True)
class AssociatedUser:
    """The staff member an online token is for (its ``associated_user``): who opened the app.

    ``email`` is personal data and stays out of the repr (and so out of logs and tracebacks).
    """

    id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    email_verified: bool
    account_owner: bool
    collaborator: bool

    @property
    def name(self) -> str | None:
        return " ".join(part for part in (self.first_name, self.last_name) if part) or None

    def __repr__(self) -> str:
        return f"AssociatedUser(id={self.id!r}, account_owner={self.account_owner!r})"


def _short_text(value: object, limit: int = 255) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text[:limit] or None


def _associated_user(raw: object) -> AssociatedUser | None:
    if not isinstance(raw, Mapping):
        return None
    user_id = raw.get("id")
    if isinstance(user_id, bool) or not isinstance(user_id, int | str) or not str(user_id).strip().isdigit():
        return None
    email = raw.get("email")
    return AssociatedUser(
        id=str(user_id).strip(),
        first_name=_short_text(raw.get("first_name")),
        last_name=_short_text(raw.get("last_name")),
        email=email.strip()[:320] if isinstance(email, str) and "@" in email else None,
        email_verified=raw.get("email_verified") is True,
        account_owner=raw.get("account_owner") is True,
        collaborator=raw.get("collaborator") is True,
    )


def online_user(
    admin_url_template: str,
    shop: str,
    session_token: str,
    *,
    client_id: str,
    client_secret: str,
    session: requests.Session | None = None,
) -> AssociatedUser:
    """Token exchange for an **online** token, for what it says about the person: the staff member's
    name, email and whether they own the shop (``associated_user``). The online token itself is not
    needed and is dropped here, never stored or returned. ``expiring`` applies to offline tokens only
    and is not sent. Raises TokenRefused or TransientPlatformError."""
    what = "online token exchange"
    fields = {
        "client_id": client_id,
        "client_secret": client_secret,
        "grant_type": EXCHANGE_GRANT,
        "subject_token": session_token,
        "subject_token_type": SUBJECT_IS_ID,
        "requested_token_type": WANT_ONLINE,
    }
    url = f"{admin_base(admin_url_template, shop)}/admin/oauth/access_token"
    body = _post_json(url, fields, what, session)
    user = _associated_user(body.get("associated_user"))
    if user is None:
        raise TokenRefused(f"Shopify {what}: the answer names no user")
    return user


# -------------------------------------------------------------------------------- session token


@dataclass(frozen=True)
class SessionToken:
    """Who opened the embedded app: the shop (from ``dest``) and the staff user id (``sub``)."""

    shop: str
    user_id: str
    session_id: str | None


def decode_session_token(token: str, *, api_key: str, secret: str, leeway: int = SESSION_TOKEN_LEEWAY) -> SessionToken:
    """Verify an admin App Bridge session token (HS256 with the app secret, ``aud`` the API key, unexpired,
    ``iss`` the shop's admin, ``sub`` a numeric staff user id) and read the shop and user from it.
    Raises :class:`OAuthError` (never echoing the token)."""
    if not secret or not api_key:
        raise OAuthError("the app's Shopify key and secret are not configured")
    try:
        with warnings.catch_warnings():
            # Shopify issues the secret; its length is not ours to choose (real ones are 38 characters).
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            claims = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                audience=api_key,
                leeway=leeway,
                options={"require": ["exp", "nbf", "aud", "iss", "dest", "sub"]},
            )
    except jwt.ExpiredSignatureError:
        raise OAuthError("the session token has expired") from None
    except jwt.InvalidTokenError:
        raise OAuthError("the session token is not valid") from None
    dest = claims.get("dest")
    if not isinstance(dest, str):
        raise OAuthError("the session token names no shop")
    parts = urlsplit(dest)
    if parts.scheme != "https" or parts.path not in ("", "/") or parts.query or parts.username:
        raise OAuthError("the session token names no shop")
    shop = (parts.hostname or "").lower()
    if not valid_shop_domain(shop) or parts.netloc.lower() != shop:
        raise OAuthError("the session token names no valid shop")
    # The same app secret signs the tokens of this app's checkout and customer-account extensions; only
    # the admin's (``iss`` = the shop's ``/admin``, ``sub`` Shopify's numeric staff user id) name staff.
    if claims.get("iss") != f"{dest.rstrip('/')}/admin":
        raise OAuthError("the session token's issuer is not the shop's admin")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not STAFF_USER_ID.fullmatch(sub):
        raise OAuthError("the session token names no staff user")
    sid = claims.get("sid")
    return SessionToken(shop=shop, user_id=str(sub), session_id=sid if isinstance(sid, str) else None)


__all__ = [
    "AssociatedUser",
    "GrantedToken",
    "OAuthError",
    "SessionToken",
    "TokenRefused",
    "authorize_url",
    "decode_session_token",
    "exchange_code",
    "exchange_session_token",
    "online_user",
    "query_hmac",
    "query_hmac_valid",
    "refresh_token",
    "verify_signed_query",
]
