"""Shopify GraphQL Admin API: the documents we send, the typed results, and reading values out of answers."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from integration.platforms.shopify.topics import parse_timestamp

API_VERSION_RE = re.compile(r"(\d{4}-\d{2}|unstable)\Z")
CUSTOMER_GID_PREFIX = "gid://shopify/Customer/"
_NUMERIC_ID_RE = re.compile(r"[0-9]{1,20}\Z")
_MAX_ERROR_TEXT = 200


# ----------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency_code: str


@dataclass(frozen=True)
class MarketingConsent:
    """``marketingState`` as Shopify spells it (``SUBSCRIBED``, ``UNSUBSCRIBED``, ``NOT_SUBSCRIBED``, ...)."""

    marketing_state: str | None
    consent_updated_at: dt.datetime | None


@dataclass(frozen=True)
class CustomerSummary:
    """What the 2025-01 webhooks stopped carrying (Shopify research §3.2), read back over GraphQL."""

    customer_id: str  # the numeric (REST) id, as a string
    number_of_orders: int
    amount_spent: Money | None
    tags: tuple[str, ...]
    email_marketing_consent: MarketingConsent | None
    sms_marketing_consent: MarketingConsent | None
    updated_at: dt.datetime | None


@dataclass(frozen=True)
class UpdatedResource:
    id: str  # legacyResourceId: the numeric id webhooks and the REST API use
    updated_at: dt.datetime


@dataclass(frozen=True)
class Page:
    items: tuple[UpdatedResource, ...]
    has_next: bool
    end_cursor: str | None  # pass as ``after`` to get the next page


# ----------------------------------------------------------------------------------------- queries

CUSTOMER_SUMMARY_QUERY = """
query CustomerSummary($id: ID!) {
  customer(id: $id) {
    id
    numberOfOrders
    amountSpent { amount currencyCode }
    tags
    emailMarketingConsent { marketingState consentUpdatedAt }
    smsMarketingConsent { marketingState consentUpdatedAt }
    updatedAt
  }
}
"""

ORDERS_UPDATED_SINCE_QUERY = """
query OrdersUpdatedSince($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
    nodes { legacyResourceId updatedAt }
    pageInfo { hasNextPage endCursor }
  }
}
"""

CUSTOMERS_UPDATED_SINCE_QUERY = """
query CustomersUpdatedSince($first: Int!, $after: String, $query: String!) {
  customers(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
    nodes { legacyResourceId updatedAt }
    pageInfo { hasNextPage endCursor }
  }
}
"""

_ADDRESS_FIELDS = "city province provinceCode countryCodeV2 zip"
_CUSTOMER_FIELDS = f"""
    legacyResourceId email firstName lastName phone locale tags updatedAt
    defaultAddress {{ {_ADDRESS_FIELDS} }}
    emailMarketingConsent {{ marketingState consentUpdatedAt }}
    smsMarketingConsent {{ marketingState consentUpdatedAt }}
"""

# What reconciliation needs of one order: the fields the orders/* webhooks carry that processing uses,
# plus the order's fulfilments (a missed fulfillments/* webhook is recovered with its order) and its
# transactions (the only place that says when it was paid).
ORDER_QUERY = f"""
query Order($id: ID!) {{
  order(id: $id) {{
    legacyResourceId name email phone createdAt processedAt updatedAt cancelledAt
    displayFinancialStatus displayFulfillmentStatus currencyCode customerLocale discountCodes
    totalPriceSet {{ shopMoney {{ amount currencyCode }} }}
    customer {{ {_CUSTOMER_FIELDS} }}
    shippingAddress {{ {_ADDRESS_FIELDS} }}
    lineItems(first: 250) {{
      nodes {{
        id title sku quantity
        product {{ legacyResourceId }}
        variant {{ legacyResourceId }}
        originalUnitPriceSet {{ shopMoney {{ amount }} }}
      }}
    }}
    transactions(first: 50) {{ kind status processedAt createdAt }}
    fulfillments(first: 50) {{
      legacyResourceId status displayStatus createdAt updatedAt deliveredAt
      trackingInfo(first: 1) {{ company number url }}
    }}
  }}
}}
"""

CUSTOMER_QUERY = f"""
query Customer($id: ID!) {{
  customer(id: $id) {{ {_CUSTOMER_FIELDS} }}
}}
"""

# tagsAdd/tagsRemove, never customerUpdate(input: {tags}): that replaces the whole list and would wipe
# tags other apps and the merchant set (research §6.3).
TAGS_ADD_MUTATION = """
mutation TagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}
"""

# Only SUBSCRIBED, UNSUBSCRIBED and PENDING are accepted as input; consentUpdatedAt dates the record.
EMAIL_CONSENT_MUTATION = """
mutation EmailConsent($input: CustomerEmailMarketingConsentUpdateInput!) {
  customerEmailMarketingConsentUpdate(input: $input) {
    customer { id }
    userErrors { field message code }
  }
}
"""

DISCOUNT_CODE_MUTATION = """
mutation ThankYouCode($discount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $discount) {
    codeDiscountNode { id }
    userErrors { field message code }
  }
}
"""

TAGS_REMOVE_MUTATION = """
mutation TagsRemove($id: ID!, $tags: [String!]!) {
  tagsRemove(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}
"""

METAFIELDS_SET_MUTATION = """
mutation MetafieldsSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { id namespace key }
    userErrors { field message code }
  }
}
"""


# ----------------------------------------------------------------------------------------- helpers


def customer_gid(customer_id: str) -> str:
    """``"123"`` or ``"gid://shopify/Customer/123"`` -> the GID; anything else is a ValueError."""
    return CUSTOMER_GID_PREFIX + numeric_id(customer_id)


def gid_of(kind: str, resource_id: str) -> str:
    """``"123"`` or ``"gid://shopify/{kind}/123"`` -> the GID; anything else is a ValueError."""
    return f"gid://shopify/{kind}/{numeric_id(resource_id, kind)}"


def numeric_id(resource_id: str, kind: str = "Customer") -> str:
    text = resource_id.strip()
    prefix = f"gid://shopify/{kind}/"
    if text.startswith(prefix):
        text = text[len(prefix) :]
    if not _NUMERIC_ID_RE.match(text):
        raise ValueError(f"{kind.lower()} id must be a numeric id or a {prefix} GID")
    return text


def tag_list(tags: Sequence[str]) -> list[str]:
    if isinstance(tags, str):
        # A bare string would be sent as one comma-separated list by Shopify; make the caller say so.
        raise TypeError("tags must be a sequence of strings, not a string")
    cleaned = [tag.strip() for tag in tags if tag.strip()]
    if not cleaned:
        raise ValueError("no tags given")
    return cleaned


def graphql_errors(raw: object) -> list[tuple[str, str | None]]:
    """GraphQL ``errors`` as (message, code) pairs. 401 bodies send a bare string instead of a list."""
    if raw is None:
        return []
    if isinstance(raw, str | Mapping):
        return [(short_text(raw if isinstance(raw, str) else str(dict(raw))), None)]
    pairs = []
    for error in as_list(raw):
        if isinstance(error, Mapping):
            extensions = error.get("extensions")
            code = extensions.get("code") if isinstance(extensions, Mapping) else None
            pairs.append((short_text(error.get("message")), code if isinstance(code, str) else None))
        else:
            pairs.append((short_text(error), None))
    return pairs


def short_text(value: object) -> str:
    text = value if isinstance(value, str) else "(no message)"
    text = " ".join(text.split())
    return text if len(text) <= _MAX_ERROR_TEXT else text[: _MAX_ERROR_TEXT - 1] + "…"


def as_list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def as_number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def as_count(value: object) -> int:
    """``UnsignedInt64`` arrives as a string of digits; tolerate a plain int too."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0


def as_money(value: object) -> Money | None:
    if not isinstance(value, Mapping):
        return None
    currency = value.get("currencyCode")
    raw = value.get("amount")
    if not isinstance(currency, str) or not isinstance(raw, str | int):
        return None
    try:
        amount = Decimal(str(raw))  # never through float: money keeps its exact digits
    except InvalidOperation:
        return None
    return Money(amount, currency) if amount.is_finite() else None


def as_consent(value: object) -> MarketingConsent | None:
    if not isinstance(value, Mapping):
        return None
    state = value.get("marketingState")
    return MarketingConsent(
        marketing_state=state if isinstance(state, str) else None,
        consent_updated_at=parse_timestamp(value.get("consentUpdatedAt")),
    )


def retry_after_header(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds (Shopify sends ``2.0``); an HTTP date or junk -> None (back off instead)."""
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None
    return max(seconds, 0.0) if seconds == seconds else None  # NaN check
