"""Whether an email may go to its recipient, asked when it is queued and again when it is sent.

Every email: not to a suppressed address. Marketing email about a customer, also: not to a customer who
was deleted or unsubscribed from email, not while they paused marketing, and not without email consent
where the shop requires it (by default for addresses in the EU, the UK and Canada). Reads go through
indexed lookups only (the suppression's unique key, the customer's and the preferences' primary keys).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.customers.models import Customer
from integration.messaging.compose import MARKETING
from integration.messaging.models import CustomerPreferences, EmailSettings, Suppression

__all__ = ["OPTED_IN", "OPTED_OUT", "blocked_reason", "consent_required", "normalise_address"]

# The platforms' words and ours for "yes" and "no" (Shopify upper-cases, BigCommerce lower-cases).
OPTED_IN = frozenset({"subscribed", "confirmed_opt_in", "single_opt_in", "yes"})
OPTED_OUT = frozenset({"unsubscribed", "declined", "opted_out", "redacted", "invalid", "no"})
# The 27 member states of the European Union.
EU = frozenset(
    {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE"}
    | {"IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"}
)
DEFAULT_CONSENT_REQUIRED_IN = "EU,GB,CA"


def normalise_address(address: str) -> str:
    return address.strip().lower()


def consent_required(country_code: str | None, required_in: str = DEFAULT_CONSENT_REQUIRED_IN) -> bool:
    """Whether marketing email to an address in ``country_code`` needs a yes first (not just no "no")."""
    if not country_code:
        return False
    code = country_code.upper()
    codes = {part.strip().upper() for part in required_in.split(",") if part.strip()}
    if "UK" in codes:
        codes.add("GB")
    return code in codes or ("EU" in codes and code in EU)


def _word(state: str | None) -> str:
    return (state or "").strip().lower()


# Built once (every thank-you of a batch asks them): a statement's construction and cache key cost more
# CPU than its execution.
_SUPPRESSED = sa.select(Suppression.reason).where(
    Suppression.shop_id == sa.bindparam("shop_id"), Suppression.address == sa.bindparam("address")
)
_CONSENT = sa.select(Customer.email_consent, Customer.country_code, Customer.deleted_at).where(
    Customer.id == sa.bindparam("customer_id")
)
_PAUSED = sa.select(CustomerPreferences.paused_until).where(
    CustomerPreferences.customer_id == sa.bindparam("customer_id")
)


def blocked_reason(
    session: Session,
    shop_id: int,
    recipient: str,
    *,
    customer_id: int | None,
    category: str,
    now: dt.datetime,
    required_in: str | None = None,
) -> str | None:
    """Why this email must not go now, or None when it may. ``required_in``: the shop's
    ``consent_required_in`` when the caller holds its settings already (else read here)."""
    suppressed = session.scalar(_SUPPRESSED, {"shop_id": shop_id, "address": normalise_address(recipient)})
    if suppressed is not None:
        return "address suppressed"
    if category != MARKETING:
        return None
    if customer_id is None:
        return "marketing email without a customer"
    customer = session.execute(_CONSENT, {"customer_id": customer_id}).one_or_none()
    if customer is None or customer.deleted_at is not None:
        return "customer deleted"
    consent = _word(customer.email_consent)
    if consent in OPTED_OUT:
        return "unsubscribed from email"
    paused_until = session.scalar(_PAUSED, {"customer_id": customer_id})
    if paused_until is not None and paused_until > now:
        return "marketing paused"
    if required_in is None:
        required_in = session.scalar(
            sa.select(EmailSettings.consent_required_in).where(EmailSettings.shop_id == shop_id)
        )
    if consent not in OPTED_IN and consent_required(customer.country_code, required_in or DEFAULT_CONSENT_REQUIRED_IN):
        return "no email consent (required for this address)"
    return None
