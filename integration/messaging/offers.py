"""Per-book offers: a rep's book may have its own thank-you code offer, and the merchant compares books.

A rep's customers (a book of up to 150) are a small community; the merchant may give that community its
own discount and days valid (``BookOffer``), in place of the shop's default from the Email settings.
Codes are still made only while the shop has thank-you codes on: an offer changes what a code gives,
not whether there is one. Each ``ThankYouCode`` records the book (the customer's rep when it was made) and
the offer it used, so a book's numbers stay its own when a customer later moves to another rep.

The comparison (``book_stats``) is one grouped query over the shop's codes: codes sent (the thank-you
actually went, with its code made), redeemed (matched from a later paid order's discount codes, see
``messaging.redemptions``), the redemption rate, and the revenue of the redeeming orders per currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.messaging.models import BookOffer, EmailSettings, OutboxMessage, ThankYouCode
from integration.reps.models import Rep, RepState

PERCENT_MIN, PERCENT_MAX = 1, 100
DAYS_MIN, DAYS_MAX = 1, 365


class OfferError(ValueError):
    """An offer the shop cannot have, in words a merchant can act on (and the field it is about)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class CodeTerms:
    """What a thank-you code gives: its discount, days valid, and the book offer it comes from."""

    percent: int
    days: int
    book_offer_id: int | None = None

    @property
    def text(self) -> str:
        return f"{self.percent} % off for {self.days} day{'' if self.days == 1 else 's'}"


def shop_terms(mail: EmailSettings) -> CodeTerms:
    return CodeTerms(mail.code_percent, mail.code_days)


def terms_for(session: Session, mail: EmailSettings, rep_id: int | None) -> CodeTerms:
    """The book's own offer when its rep has one turned on, else the shop's default."""
    if rep_id is not None:
        offer = session.scalar(sa.select(BookOffer).where(BookOffer.rep_id == rep_id, BookOffer.enabled.is_(True)))
        if offer is not None:
            return CodeTerms(offer.percent, offer.days, offer.id)
    return shop_terms(mail)


def offer_of(session: Session, rep_id: int) -> BookOffer | None:
    return session.scalar(sa.select(BookOffer).where(BookOffer.rep_id == rep_id))


def check_terms(percent: int | None, days: int | None) -> tuple[int, int]:
    """Percent 1-100 and days 1-365, or OfferError naming the field."""
    if percent is None or not PERCENT_MIN <= percent <= PERCENT_MAX:
        raise OfferError("percent", f"Choose a discount from {PERCENT_MIN} to {PERCENT_MAX} %.")
    if days is None or not DAYS_MIN <= days <= DAYS_MAX:
        raise OfferError("days", f"Choose from {DAYS_MIN} to {DAYS_MAX} days.")
    return percent, days


def save_offer(session: Session, rep: Rep, *, enabled: bool, percent: int | None, days: int | None) -> BookOffer:
    """Give the rep's book its own offer (or change it); codes made from now on use it while enabled."""
    percent, days = check_terms(percent, days)
    offer = offer_of(session, rep.id)
    if offer is None:
        offer = BookOffer(shop_id=rep.shop_id, rep_id=rep.id, enabled=enabled, percent=percent, days=days)
        session.add(offer)
    else:
        offer.enabled, offer.percent, offer.days = enabled, percent, days
    session.flush()
    return offer


def clear_offer(session: Session, rep: Rep) -> bool:
    """The book goes back to the shop's default; codes made with the offer keep their record of it."""
    offer = offer_of(session, rep.id)
    if offer is None:
        return False
    session.delete(offer)
    session.flush()
    return True


@dataclass
class BookStats:
    """One book's codes side by side with the others'. ``rep`` None: customers without a rep then."""

    rep_id: int | None
    name: str
    state: str
    offer: CodeTerms | None  # the book's own offer now (None: the shop's default)
    offer_enabled: bool = False
    sent: int = 0
    redeemed: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)  # currency ("" unknown) -> total

    @property
    def rate(self) -> float | None:
        return self.redeemed / self.sent if self.sent else None

    def revenue_in(self, currency: str | None) -> list[tuple[str, Decimal]]:
        """The revenue, the shop's currency first (then any other an order was paid in)."""
        main = (currency or "").upper()
        return sorted(self.revenue.items(), key=lambda item: (item[0] != main, item[0]))


def book_stats(session: Session, shop_id: int) -> list[BookStats]:
    """Every book of the shop (reps who left only if their book has codes), with its offer and numbers.

    Two queries whatever the number of codes: the reps with their offers, and the codes grouped by book
    and currency."""
    sent = sa.case((sa.and_(OutboxMessage.status == "sent", ThankYouCode.state == "created"), 1), else_=0)
    redeemed = sa.case((ThankYouCode.redeemed_at.is_not(None), 1), else_=0)
    grouped = session.execute(
        sa.select(
            ThankYouCode.rep_id,
            ThankYouCode.redeemed_currency,
            sa.func.sum(sent),
            sa.func.sum(redeemed),
            sa.func.sum(ThankYouCode.redeemed_total),
        )
        .join(OutboxMessage, OutboxMessage.id == ThankYouCode.outbox_id)
        .where(ThankYouCode.shop_id == shop_id)
        .group_by(ThankYouCode.rep_id, ThankYouCode.redeemed_currency)
    ).all()
    reps = session.execute(
        sa.select(Rep, BookOffer)
        .outerjoin(BookOffer, BookOffer.rep_id == Rep.id)
        .where(Rep.shop_id == shop_id)
        .order_by(Rep.name, Rep.id)
    ).all()
    with_codes = {row[0] for row in grouped}
    books: dict[int | None, BookStats] = {}
    for rep, offer in reps:
        if rep.state == RepState.LEFT and rep.id not in with_codes:
            continue
        books[rep.id] = BookStats(
            rep_id=rep.id,
            name=rep.name,
            state=rep.state,
            offer=CodeTerms(offer.percent, offer.days, offer.id) if offer is not None else None,
            offer_enabled=bool(offer is not None and offer.enabled),
        )
    for rep_id, currency, sent_count, redeemed_count, total in grouped:
        book = books.get(rep_id)
        if book is None:  # no rep when the code was made (every book was full), or the rep was removed
            book = books.setdefault(None, BookStats(rep_id=None, name="No rep", state="", offer=None))
        book.sent += int(sent_count or 0)
        book.redeemed += int(redeemed_count or 0)
        if total is not None:
            key = (currency or "").upper()
            book.revenue[key] = book.revenue.get(key, Decimal("0")) + Decimal(total)
    return list(books.values())
