"""Whether an email may go to its recipient, asked when it is queued and again when it is sent.

Every email: not to a suppressed address. Marketing email about a customer, also: not to a customer who
was deleted or unsubscribed from email, not while they paused marketing, not to one who chose "only
important" (marketing is not), not a second within 30 days to one who chose "monthly", and not without
email consent where the shop requires it (by default for addresses in the EU, the UK and Canada).
Interests are not asked: they are recorded for the merchant, and the thank-you is about what was bought.
Reads go through indexed lookups only (the suppression's unique key, the customer's and the preferences'
primary keys, and for "monthly" the outbox's ``ix_outbox_customer_sends``).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.customers.models import Customer
from integration.messaging.compose import MARKETING
from integration.messaging.models import CustomerPreferences, EmailSettings, OutboxMessage, Suppression

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
# The preference centre's "how often" (preferences.FREQUENCIES) as the send-time check reads it.
ONLY_IMPORTANT, MONTHLY = "important", "monthly"
MONTHLY_GAP = dt.timedelta(days=30)
# Outbox statuses that count as emailed for "monthly": sent, or on its way (claimed, or handed over
# with the outcome unknown), so two sends running at once cannot both go.
EMAILED = ("sending", "unconfirmed", "sent")


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
_PREFERENCES = sa.select(CustomerPreferences.paused_until, CustomerPreferences.frequency).where(
    CustomerPreferences.customer_id == sa.bindparam("customer_id")
)
_PREFERENCES_LOCKED = _PREFERENCES.with_for_update()


def blocked_reason(
    session: Session,
    shop_id: int,
    recipient: str,
    *,
    customer_id: int | None,
    category: str,
    now: dt.datetime,
    outbox_id: int | None = None,
    lock: bool = False,
    required_in: str | None = None,
) -> str | None:
    """Why this email must not go now, or None when it may.

    ``outbox_id``: the row being sent (not counted against its own customer's monthly limit). ``lock``:
    hold the customer's preferences row until the caller commits (the send's claim), so a second send
    to the same "monthly" customer waits and then sees the first one's row as ``sending``.
    ``required_in``: the shop's ``consent_required_in`` when the caller holds its settings already (else
    read here)."""
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
    prefs = session.execute(_PREFERENCES_LOCKED if lock else _PREFERENCES, {"customer_id": customer_id}).one_or_none()
    if prefs is not None and prefs.paused_until is not None and prefs.paused_until > now:
        return "marketing paused"
    if prefs is not None and prefs.frequency == ONLY_IMPORTANT:
        return "customer chose only important email (no marketing)"
    if (
        prefs is not None
        and prefs.frequency == MONTHLY
        and _emailed_since(session, customer_id, now - MONTHLY_GAP, outbox_id)
    ):
        return "customer chose monthly: a marketing email went to them in the last 30 days"
    if required_in is None:
        required_in = session.scalar(
            sa.select(EmailSettings.consent_required_in).where(EmailSettings.shop_id == shop_id)
        )
    if consent not in OPTED_IN and consent_required(customer.country_code, required_in or DEFAULT_CONSENT_REQUIRED_IN):
        return "no email consent (required for this address)"
    return None


def _emailed_since(session: Session, customer_id: int, since: dt.datetime, outbox_id: int | None) -> bool:
    """Whether a marketing email went (or is going) to this customer since ``since``: one range read of
    ``ix_outbox_customer_sends``, stopped at the first row."""
    query = (
        sa.select(OutboxMessage.id)
        .where(
            OutboxMessage.customer_id == customer_id,
            OutboxMessage.category == MARKETING,
            OutboxMessage.last_attempt_at >= since,
            OutboxMessage.status.in_(EMAILED),
        )
        .limit(1)
    )
    if outbox_id is not None:
        query = query.where(OutboxMessage.id != outbox_id)
    return session.scalar(query) is not None
