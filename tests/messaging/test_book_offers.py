"""Per-book offers: a thank-you code uses the customer's book's own offer (else the shop's), records the book
and offer it was made for, is redeemed once from a later paid order's discount codes, and the books' numbers
are compared side by side."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from integration.core.runtime import Runtime
from integration.customers.models import Customer, OrderDiscountCode, TimelineEntry
from integration.messaging.models import EmailSettings, OutboxMessage, ThankYouCode
from integration.messaging.offers import OfferError, book_stats, clear_offer, save_offer
from integration.reps.models import Rep
from integration.shops.models import Shop
from tests.helpers import RuntimeFactory, add_shop
from tests.reps.conftest import World, utc

SOON = utc(2027, 1, 1, 0, 10)  # World orders are paid on 1 Jan 2027; we learn of them ten minutes later
LATER = utc(2027, 1, 9)
US = "America/Los_Angeles"  # no email consent needed first


@pytest.fixture
def code_runtime(make_runtime: RuntimeFactory) -> Runtime:
    return make_runtime(public_url="https://app.example")


def world_with_codes(runtime: Runtime) -> World:
    shop = add_shop(runtime)
    with runtime.session() as session:
        session.execute(sa.update(Shop).where(Shop.id == shop.id).values(name="Fern & Co", currency="EUR"))
        session.add(EmailSettings(shop_id=shop.id, codes_enabled=True, code_percent=15, code_days=30))
    return World(runtime, shop.id)


@pytest.fixture
def world(code_runtime: Runtime) -> World:
    return world_with_codes(code_runtime)


def set_offer(world: World, rep_id: int, *, enabled: bool = True, percent: int = 25, days: int = 10) -> int:
    with world.runtime.session() as session:
        return save_offer(session, session.get_one(Rep, rep_id), enabled=enabled, percent=percent, days=days).id


def codes(runtime: Runtime) -> list[ThankYouCode]:
    with runtime.session() as session:
        found = list(session.scalars(sa.select(ThankYouCode).order_by(ThankYouCode.id)))
        session.expunge_all()
        return found


def email_of(runtime: Runtime, code: ThankYouCode) -> OutboxMessage:
    with runtime.session() as session:
        mail = session.get_one(OutboxMessage, code.outbox_id)
        session.expunge(mail)
        return mail


def test_the_books_own_offer_gives_the_code_its_discount_and_days(world: World) -> None:
    dana = world.rep("dana@fern.example", zone=US)
    offer_id = set_offer(world, dana, percent=25, days=10)

    world.order(1001, email="cal@example.com", zone=US, now=SOON)

    [code] = codes(world.runtime)
    assert (code.percent, code.days, code.rep_id, code.book_offer_id) == (25, 10, dana, offer_id)
    assert code.ends_at == SOON + dt.timedelta(days=10)
    mail = email_of(world.runtime, code)
    assert f"Your thank-you code: {code.code} (25 % off, once, for 10 days)" in mail.text_body


@pytest.mark.parametrize("offer", ["none", "turned off"])
def test_without_a_book_offer_the_shops_default_is_used(world: World, offer: str) -> None:
    dana = world.rep("dana@fern.example", zone=US)
    if offer == "turned off":
        set_offer(world, dana, enabled=False, percent=40, days=5)

    world.order(1001, email="cal@example.com", zone=US, now=SOON)

    [code] = codes(world.runtime)
    assert (code.percent, code.days, code.rep_id, code.book_offer_id) == (15, 30, dana, None)
    assert code.ends_at == SOON + dt.timedelta(days=30)
    assert "(15 % off, once, for 30 days)" in email_of(world.runtime, code).text_body


def test_the_offer_is_checked_and_can_be_cleared(world: World) -> None:
    dana = world.rep("dana@fern.example", zone=US)
    with world.runtime.session() as session:
        rep = session.get_one(Rep, dana)
        for percent, days, field in ((0, 10, "percent"), (101, 10, "percent"), (10, 0, "days"), (10, 366, "days")):
            with pytest.raises(OfferError) as refused:
                save_offer(session, rep, enabled=True, percent=percent, days=days)
            assert refused.value.field == field
    set_offer(world, dana, percent=20, days=14)
    set_offer(world, dana, percent=30, days=7)  # changed, still one offer per book
    with world.runtime.session() as session:
        [book] = book_stats(session, world.shop_id)
        assert book.offer is not None and (book.offer.percent, book.offer.days, book.offer_enabled) == (30, 7, True)
        assert clear_offer(session, session.get_one(Rep, dana)) is True
        assert clear_offer(session, session.get_one(Rep, dana)) is False
    world.order(1001, email="cal@example.com", zone=US, now=SOON)
    assert [(c.percent, c.days) for c in codes(world.runtime)] == [(15, 30)]


def sent(runtime: Runtime, code: ThankYouCode) -> None:
    """The code was made on the platform and its email went (what ``make`` and the send job do)."""
    with runtime.session() as session:
        session.execute(sa.update(ThankYouCode).where(ThankYouCode.id == code.id).values(state="created"))
        session.execute(sa.update(OutboxMessage).where(OutboxMessage.id == code.outbox_id).values(status="sent"))


def redemptions(runtime: Runtime) -> list[TimelineEntry]:
    with runtime.session() as session:
        found = list(session.scalars(sa.select(TimelineEntry).where(TimelineEntry.kind == "code_redeemed")))
        session.expunge_all()
        return found


def test_a_later_order_with_the_code_redeems_it_once(world: World) -> None:
    world.rep("dana@fern.example", zone=US)
    world.order(1001, email="cal@example.com", zone=US, now=SOON)
    [code] = codes(world.runtime)
    sent(world.runtime, code)

    # Typed in lower case, on the customer's next order; the webhook delivered twice, then the order updated.
    world.order(1002, email="cal@example.com", zone=US, now=LATER, codes=(code.code.lower(),), total="54.00")
    world.order(1002, email="cal@example.com", zone=US, now=LATER, codes=(code.code.lower(),), total="54.00")
    world.order(1002, email="cal@example.com", zone=US, at=utc(2027, 3, 2), now=LATER, codes=(code.code,), total="50")

    redeemed = next(c for c in codes(world.runtime) if c.id == code.id)
    assert redeemed.redeemed_at == LATER
    assert (redeemed.redeemed_total, redeemed.redeemed_currency) == (Decimal("54.00"), "EUR")
    with world.runtime.session() as session:
        order_id = session.scalar(
            sa.select(OrderDiscountCode.order_id).where(OrderDiscountCode.code == code.code)
        )  # the update's codes replaced the first version's
        assert redeemed.redeemed_order_id == order_id
    [entry] = redemptions(world.runtime)
    assert entry.ref == code.code and entry.summary == f"Used thank-you code {code.code} on order #1002 (54.00 EUR)"
    with world.runtime.session() as session:
        [book] = book_stats(session, world.shop_id)
    assert (book.sent, book.redeemed, book.rate, book.revenue) == (1, 1, 1.0, {"EUR": Decimal("54.00")})


def test_unpaid_test_and_other_shops_orders_redeem_nothing(world: World, code_runtime: Runtime) -> None:
    world.rep("dana@fern.example", zone=US)
    world.order(1001, email="cal@example.com", zone=US, now=SOON)
    [code] = codes(world.runtime)
    from integration.events.changes import OrderStatus

    world.order(1002, email="cal@example.com", zone=US, now=LATER, codes=(code.code,), status=OrderStatus.PENDING)
    world.order(1003, email="cal@example.com", zone=US, now=LATER, codes=(code.code,), test=True)
    other = World(code_runtime, add_shop(code_runtime, "shopify", "other-shop.myshopify.com").id)
    other.order(2001, email="cal@example.com", zone=US, now=LATER, codes=(code.code,))

    assert codes(world.runtime)[0].redeemed_at is None
    assert redemptions(world.runtime) == []
    # The pending order is paid later: then it counts.
    world.order(1002, email="cal@example.com", zone=US, at=utc(2027, 3, 2), now=LATER, codes=(code.code,))
    assert codes(world.runtime)[0].redeemed_at == LATER


def add_code(
    runtime: Runtime,
    shop_id: int,
    customer_id: int,
    rep_id: int | None,
    *,
    status: str = "sent",
    state: str = "created",
    redeemed: str | None = None,
    currency: str = "EUR",
) -> None:
    with runtime.session() as session:
        number = session.scalar(sa.select(sa.func.count()).select_from(ThankYouCode)) or 0
        mail = OutboxMessage(
            shop_id=shop_id, dedupe_key=f"thank-you-{number}", template="thank_you", recipient="c@example.com",
            subject="Thanks", text_body="Thanks", status=status, customer_id=customer_id,
        )  # fmt: skip
        session.add(mail)
        session.flush()
        session.add(
            ThankYouCode(
                shop_id=shop_id, customer_id=customer_id, outbox_id=mail.id, code=f"THANKS-{number:08d}",
                percent=15, days=30, ends_at=LATER, state=state, fallback_text="Thanks", rep_id=rep_id,
                redeemed_at=LATER if redeemed else None, redeemed_total=Decimal(redeemed) if redeemed else None,
                redeemed_currency=currency if redeemed else None,
            )
        )  # fmt: skip


def test_books_are_compared_side_by_side_and_keep_their_codes_when_a_customer_moves(world: World) -> None:
    ann, dana, eli = (world.rep(f"{n}@fern.example", zone=US) for n in ("ann", "dana", "eli"))
    set_offer(world, dana, percent=25, days=10)
    with world.runtime.session() as session:
        customer = Customer(shop_id=world.shop_id, email="c@example.com", rep_id=dana, source_updated_at=SOON)
        session.add(customer)
        session.flush()
        customer_id = customer.id
    for _ in range(3):
        add_code(world.runtime, world.shop_id, customer_id, dana)
    add_code(world.runtime, world.shop_id, customer_id, dana, redeemed="40.00")
    add_code(world.runtime, world.shop_id, customer_id, dana, redeemed="10.50", currency="USD")
    add_code(world.runtime, world.shop_id, customer_id, dana, status="queued")  # not sent yet
    add_code(world.runtime, world.shop_id, customer_id, dana, state="failed")  # went without its code
    add_code(world.runtime, world.shop_id, customer_id, ann, redeemed="20.00")
    add_code(world.runtime, world.shop_id, customer_id, None)  # made while every book was full
    with world.runtime.session() as session:  # the customer moves to Eli: Dana's numbers stay Dana's
        session.execute(sa.update(Customer).where(Customer.id == customer_id).values(rep_id=eli))

    with world.runtime.session() as session:
        books = {book.name: book for book in book_stats(session, world.shop_id)}

    assert sorted(books) == ["Ann", "Dana", "Eli", "No rep"]
    dana_book = books["Dana"]
    assert (dana_book.sent, dana_book.redeemed, dana_book.rate) == (5, 2, 0.4)
    assert dana_book.offer is not None and dana_book.offer.text == "25 % off for 10 days"
    assert dana_book.revenue_in("EUR") == [("EUR", Decimal("40.00")), ("USD", Decimal("10.50"))]
    assert (books["Ann"].sent, books["Ann"].redeemed, books["Ann"].offer) == (1, 1, None)
    assert (books["Eli"].sent, books["Eli"].redeemed, books["Eli"].rate) == (0, 0, None)
    assert (books["No rep"].sent, books["No rep"].redeemed) == (1, 0)
