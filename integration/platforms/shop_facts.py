"""A shop's own facts as a platform tells them (name, IANA time zone, currency, owner email, primary
domain), checked before they are kept: a zone the tz database does not know, a currency that is not
three letters, an address that is no address or a domain that is not a host name becomes None, never
stored. Each platform reads them its own way (``shopify/facts.py``, ``bigcommerce/facts.py``); nothing
here logs the owner's email.
"""

from __future__ import annotations

import functools
import re
from zoneinfo import available_timezones

from integration.platforms.interfaces import ShopFacts

MAX_NAME = 255
MAX_EMAIL = 320
MAX_HOST = 255
_CURRENCY_RE = re.compile(r"[A-Z]{3}")
_HOST_RE = re.compile(r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")
# Names in the tz database that are no place's zone.
_NOT_ZONES = {"localtime", "posixrules", "Factory"}


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones() - _NOT_ZONES)


def iana_zone(value: object) -> str | None:
    """``value`` when it is a zone name this tz database knows, else None."""
    return value if isinstance(value, str) and value in _zones() else None


def _text(value: object, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())  # one line: no control characters reach a page or a header
    return text[:limit] if text else None


def _currency(value: object) -> str | None:
    text = value.strip().upper() if isinstance(value, str) else ""
    return text if _CURRENCY_RE.fullmatch(text) else None


def _email(value: object) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > MAX_EMAIL or text.count("@") != 1 or any(c.isspace() for c in text):
        return None
    local, domain = text.split("@")
    return text if local and "." in domain else None


def _host(value: object) -> str | None:
    text = value.strip().lower().rstrip(".") if isinstance(value, str) else ""
    return text if len(text) <= MAX_HOST and _HOST_RE.fullmatch(text) else None


def facts_from(
    *, name: object, time_zone: object, currency: object, owner_email: object, primary_domain: object
) -> ShopFacts:
    """Checked facts from a platform's raw values (each unusable one becomes None)."""
    return ShopFacts(
        name=_text(name, MAX_NAME),
        time_zone=iana_zone(time_zone),
        currency=_currency(currency),
        owner_email=_email(owner_email),
        primary_domain=_host(primary_domain),
    )


__all__ = ["facts_from", "iana_zone"]
