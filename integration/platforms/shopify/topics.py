"""Shopify webhook topics, shop domains and timestamps: what the edge and the registry need without the adapter."""

from __future__ import annotations

import datetime as dt
import re

TOPICS_HANDLED: frozenset[str] = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/fulfilled",
        "orders/cancelled",
        "customers/create",
        "customers/update",
        "fulfillments/create",
        "fulfillments/update",
        "fulfillment_events/create",
        "customers_email_marketing_consent/update",
        "customers_marketing_consent/update",
    }
)

# Events that name a resource to be read over the API. reconcile/* are written by reconciliation
# (``integration.sync.reconcile``) with a body of {"id": ...}; the others are Shopify's 2025-01 topics
# for what customer payloads stopped carrying (research §3.2).
RECONCILE_ORDER = "reconcile/order"
RECONCILE_CUSTOMER = "reconcile/customer"
TAG_TOPICS: frozenset[str] = frozenset({"customer.tags_added", "customer.tags_removed"})
PURCHASING_SUMMARY = "customers/purchasing_summary"
API_TOPICS: frozenset[str] = frozenset({RECONCILE_ORDER, RECONCILE_CUSTOMER, PURCHASING_SUMMARY} | TAG_TOPICS)

# What may arrive by webhook and be processed (reconcile/* are only ever written by us).
WEBHOOK_TOPICS: frozenset[str] = TOPICS_HANDLED | TAG_TOPICS | {PURCHASING_SUMMARY}


APP_UNINSTALLED = "app/uninstalled"

# Stored on arrival; the install and compliance capability acts on them later.
TOPICS_STORED: frozenset[str] = frozenset(
    {"customers/data_request", "customers/redact", "shop/redact", "app/uninstalled"}
)

# re.ASCII matters: with IGNORECASE alone, [a-z] also matches non-ASCII letters such as the Kelvin
# sign U+212A. \Z (not $) so a trailing newline is rejected even by callers using .match().
SHOP_DOMAIN_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}\.myshopify\.com\Z", re.IGNORECASE | re.ASCII)

TIMESTAMP_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:?\d{2})",
    re.IGNORECASE | re.ASCII,
)

# A status value short and plain enough to name in a Skip reason (never free text from a body).
NUMERIC_RE = re.compile(r"[0-9]{1,20}", re.ASCII)
SLUG_RE = re.compile(r"[a-z_]{1,40}", re.ASCII)


def valid_shop_domain(value: str) -> bool:
    """True only for ``<name>.myshopify.com``: no paths, ports, userinfo, extra labels or dots."""
    return SHOP_DOMAIN_RE.match(value) is not None


def parse_timestamp(value: object) -> dt.datetime | None:
    """An ISO 8601 time with an offset (``Z`` or ``±HH:MM``) as an aware UTC datetime, else None.

    Times without an offset are refused: Shopify writes them in the shop's zone, so they are ambiguous.
    """
    if not isinstance(value, str):
        return None
    match = TIMESTAMP_RE.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    # X-Shopify-Triggered-At has nanoseconds and Python keeps microseconds. Truncate rather than
    # round, so a time never moves past a slightly later one.
    microsecond = int((fraction or "")[:6].ljust(6, "0"))
    try:
        moment = dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), microsecond, _zone(offset)
        )
        return moment.astimezone(dt.UTC)
    except (ValueError, OverflowError):  # 2026-13-01, +25:00, or a shift past year 1 or 9999
        return None


def _zone(offset: str) -> dt.timezone:
    if offset.upper() == "Z":
        return dt.UTC
    digits = offset[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if minutes > 59:
        raise ValueError("offset minutes out of range")
    delta = dt.timedelta(hours=hours, minutes=minutes)
    return dt.timezone(-delta if offset[0] == "-" else delta)
