"""Messaging tables: the outbox (every email is a row before it is sent, or instead of it without SMTP),
the suppression list, the consent ledger with its derived state, per-shop email settings, and the queue of
consent changes to push back to the platforms."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from integration.core.db import Base, BigId, utcnow

__all__ = [
    "BookOffer",
    "ConsentEntry",
    "ConsentPush",
    "CustomerPreferences",
    "EmailSettings",
    "OutboxMessage",
    "Suppression",
    "ThankYouCode",
]


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        # One email per purpose: a digest per rep per day, a thank-you per order (retries never send twice).
        sa.UniqueConstraint("shop_id", "dedupe_key", name="uq_outbox_shop_dedupe"),
        sa.Index("ix_outbox_status_created", "status", "created_at"),
        # The relay: queued rows whose time has come, oldest first.
        sa.Index("ix_outbox_status_send_after", "status", "send_after"),
        # A customer's emails (their profile, redaction), and the send-time check of a "monthly" customer's
        # latest marketing email (by when its sending began).
        sa.Index("ix_outbox_customer_sends", "customer_id", "category", "last_attempt_at"),
        # Ops' per-shop listing, newest first.
        sa.Index("ix_outbox_shop_id", "shop_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(sa.String(255))
    template: Mapped[str] = mapped_column(sa.String(64))
    recipient: Mapped[str] = mapped_column(sa.String(320))
    subject: Mapped[str] = mapped_column(sa.String(998))
    text_body: Mapped[str] = mapped_column(sa.Text)
    html_body: Mapped[str | None] = mapped_column(sa.Text)
    # queued -> sending -> sent, or: skipped (not contactable when it was time), failed (permanent, or out of
    # retries), unconfirmed (the connection broke after the message went: never resent, for a person to judge).
    status: Mapped[str] = mapped_column(sa.String(16), default="queued", server_default="queued")
    message_id: Mapped[str | None] = mapped_column(sa.String(255))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
    # The customer it is about (None for staff email): consent and suppression are checked on them at send time.
    customer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="SET NULL", name="fk_outbox_customer_id")
    )
    # marketing (needs consent, carries List-Unsubscribe) or transactional (sign-in links, digests).
    category: Mapped[str] = mapped_column(sa.String(16), default="transactional", server_default="transactional")
    sender_name: Mapped[str | None] = mapped_column(sa.String(255))
    sender_address: Mapped[str | None] = mapped_column(sa.String(320))
    reply_to: Mapped[str | None] = mapped_column(sa.String(320))
    unsubscribe_url: Mapped[str | None] = mapped_column(sa.Text)
    # Not before (a thank-you an hour after payment); None: at once.
    send_after: Mapped[dt.datetime | None]
    last_attempt_at: Mapped[dt.datetime | None]


class Suppression(Base):
    """An address we must not email (a permanent 5xx for it, a complaint): checked at every send."""

    __tablename__ = "email_suppressions"
    __table_args__ = (sa.UniqueConstraint("shop_id", "address", name="uq_email_suppressions_shop_address"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(sa.String(320))  # lower-cased
    reason: Mapped[str] = mapped_column(sa.Text)
    outbox_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ConsentEntry(Base):
    """One change of consent or preference, append-only: nothing updates or deletes these rows but
    redaction. The current state (``CustomerPreferences`` and the customer's consent columns) is derived
    from them."""

    __tablename__ = "consent_ledger"
    __table_args__ = (
        # Deriving one topic's state: the customer's latest entry for it.
        sa.Index("ix_consent_ledger_customer_topic", "customer_id", "topic", "occurred_at"),
        sa.Index("ix_consent_ledger_shop_recorded", "shop_id", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"))
    # email, sms, calls (channels); interests, frequency, pause (preferences)
    topic: Mapped[str] = mapped_column(sa.String(16))
    value: Mapped[str | None] = mapped_column(sa.Text)
    previous: Mapped[str | None] = mapped_column(sa.Text)
    actor: Mapped[str] = mapped_column(sa.String(16))  # customer, rep, merchant, platform, import, system
    actor_ref: Mapped[str | None] = mapped_column(sa.String(255))  # a rep's or staff member's id, an event id
    method: Mapped[str] = mapped_column(sa.String(16))  # page, one_click, call, api, webhook, import
    wording_version: Mapped[str | None] = mapped_column(sa.String(32))
    occurred_at: Mapped[dt.datetime]
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CustomerPreferences(Base):
    """What the ledger says now about a customer's preferences (derived, rewritten from the ledger), and
    the generation of their signed links (raising it revokes every link sent before)."""

    __tablename__ = "customer_preferences"

    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    interests: Mapped[str | None] = mapped_column(sa.Text)  # JSON list of product types
    frequency: Mapped[str] = mapped_column(sa.String(16), default="everything", server_default="everything")
    paused_until: Mapped[dt.datetime | None]
    link_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EmailSettings(Base):
    """A shop's email settings (a row only once the merchant saved some; defaults otherwise)."""

    __tablename__ = "email_settings"

    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    thankyou_enabled: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    thankyou_delay_minutes: Mapped[int] = mapped_column(default=60, server_default="60")
    # Email consent required before marketing email to customers in these countries (ISO codes, EU for the
    # union); elsewhere only an opt-out stops it.
    consent_required_in: Mapped[str] = mapped_column(sa.String(255), default="EU,GB,CA", server_default="EU,GB,CA")
    thankyou_subject: Mapped[str | None] = mapped_column(sa.Text)
    thankyou_body: Mapped[str | None] = mapped_column(sa.Text)
    codes_enabled: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    code_percent: Mapped[int] = mapped_column(default=15, server_default="15")
    code_days: Mapped[int] = mapped_column(default=30, server_default="30")
    # The shop's colour (#rrggbb) on the customer's pages and in its emails; None: the app's own blue.
    brand_colour: Mapped[str | None] = mapped_column(sa.String(7))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ConsentPush(Base):
    """A consent change of ours to write to the platform's record (an unsubscribe here must reach the
    merchant's other tools); a job per row, retried; its outcome kept for ops."""

    __tablename__ = "consent_pushes"
    __table_args__ = (sa.Index("ix_consent_pushes_state", "state", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(sa.String(16))
    value: Mapped[str] = mapped_column(sa.String(32))
    state: Mapped[str] = mapped_column(sa.String(16), default="queued", server_default="queued")  # queued, done, failed
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    pushed_at: Mapped[dt.datetime | None]


class ThankYouCode(Base):
    """A single-use discount code for one customer, made on the platform before their thank-you goes out.

    The thank-you waits (outbox status ``waiting``) until the code is made; when making it fails for good,
    the email goes without it (``fallback_*`` hold that version) and ``error`` says why, for ops."""

    __tablename__ = "thank_you_codes"
    __table_args__ = (
        sa.UniqueConstraint("shop_id", "code", name="uq_thank_you_codes_shop_code"),
        sa.Index("ix_thank_you_codes_state", "state", "created_at"),
        # The offers-by-book table: one shop's codes grouped by book.
        sa.Index("ix_thank_you_codes_shop_rep", "shop_id", "rep_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"))
    outbox_id: Mapped[int] = mapped_column(sa.ForeignKey("outbox.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(sa.String(50))
    percent: Mapped[int]
    ends_at: Mapped[dt.datetime]
    state: Mapped[str] = mapped_column(sa.String(16), default="pending", server_default="pending")  # created, failed
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(sa.Text)
    fallback_text: Mapped[str] = mapped_column(sa.Text)
    fallback_html: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    made_at: Mapped[dt.datetime | None]
    # The book it was made for (the customer's rep then), so a book's numbers stay its own when the
    # customer later moves; and the book's offer it used (None: the shop's default offer).
    rep_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("reps.id", ondelete="SET NULL", name="fk_thank_you_codes_rep")
    )
    book_offer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("book_offers.id", ondelete="SET NULL", name="fk_thank_you_codes_book_offer")
    )
    days: Mapped[int | None]  # how long it was valid (None: made before offers were recorded)
    # The first paid order that used it (matched from the order's discount codes); set once.
    redeemed_order_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("orders.id", ondelete="SET NULL", name="fk_thank_you_codes_redeemed_order")
    )
    redeemed_at: Mapped[dt.datetime | None]
    redeemed_total: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))
    redeemed_currency: Mapped[str | None] = mapped_column(sa.String(3))


class BookOffer(Base):
    """A rep's book's own thank-you code offer, in place of the shop's default while ``enabled``.

    One per rep: a rep's customers as a small community with its own code. Codes are still made only
    when the shop turned thank-you codes on (Email settings); this changes their discount and days."""

    __tablename__ = "book_offers"
    __table_args__ = (
        sa.UniqueConstraint("rep_id", name="uq_book_offers_rep"),
        sa.Index("ix_book_offers_shop", "shop_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    rep_id: Mapped[int] = mapped_column(sa.ForeignKey("reps.id", ondelete="CASCADE"))
    enabled: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    percent: Mapped[int]
    days: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
