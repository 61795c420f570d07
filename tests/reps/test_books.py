"""Books: one rep per customer, kept across orders, never more than the rep's capacity.

The concurrency test assigns from separate processes (each with its own engine and connections), on
SQLite and on PostgreSQL, as several workers on several machines would.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence

import sqlalchemy as sa

from integration.core.config import Settings
from integration.core.runtime import Runtime
from integration.customers.models import Customer, TimelineEntry
from integration.reps.books import assign, best_candidate, candidates, fill_from_pool, pool_size, release
from integration.reps.models import Rep
from integration.reps.roster import RepInput, add_rep, hand_over, leave
from tests.helpers import add_customer, add_shop


def add_customers(runtime: Runtime, shop_id: int, n: int, *, zone: str = "Europe/London", vip: int = 0) -> list[int]:
    return [
        add_customer(
            runtime,
            shop_id,
            email=f"c{i}@example.com",
            first_name=f"C{i}",
            time_zone=zone,
            segment="vip" if i < vip else "new",
        )
        for i in range(n)
    ]


def rep(runtime: Runtime, shop_id: int, email: str, zone: str = "Europe/London", **kw: object) -> int:
    with runtime.session() as session:
        return add_rep(
            session, shop_id, RepInput(name=email.split("@")[0].title(), email=email, time_zone=zone, **kw)
        ).id  # type: ignore[arg-type]


def books(runtime: Runtime, shop_id: int) -> dict[int, tuple[int, int, int]]:
    """rep id -> (book_size column, customers actually holding the rep, capacity)."""
    with runtime.session() as session:
        held = dict(
            session.execute(
                sa.select(Customer.rep_id, sa.func.count())
                .where(Customer.rep_id.is_not(None))
                .group_by(Customer.rep_id)
            ).all()
        )
        return {
            r.id: (r.book_size, held.get(r.id, 0), r.capacity)
            for r in session.scalars(sa.select(Rep).where(Rep.shop_id == shop_id))
        }


def test_a_customer_keeps_their_rep(runtime: Runtime) -> None:
    shop = add_shop(runtime).id
    dana = rep(runtime, shop, "dana@shop.example")
    (customer,) = add_customers(runtime, shop, 1)
    with runtime.session() as session:
        assert assign(session, customer) == dana
    rep(runtime, shop, "eli@shop.example")  # an emptier book later changes nothing for them
    with runtime.session() as session:
        assert assign(session, customer) == dana
        entry = session.scalars(sa.select(TimelineEntry).where(TimelineEntry.customer_id == customer)).one()
        assert entry.summary == "Your contact is Dana"


def test_hours_that_suit_the_customer_win_then_the_smaller_book(runtime: Runtime) -> None:
    shop = add_shop(runtime).id
    berlin = rep(runtime, shop, "berlin@shop.example", zone="Europe/Berlin", hours="Mon-Fri 09:00-17:00")
    la = rep(runtime, shop, "la@shop.example", zone="America/Los_Angeles", hours="Mon-Fri 09:00-17:00")
    (californian,) = add_customers(runtime, shop, 1, zone="America/Los_Angeles")
    with runtime.session() as session:
        ranked = candidates(session, shop, "America/Los_Angeles")
        assert [c.rep_id for c in ranked] == [la, berlin]
        assert ranked[0].overlap > ranked[1].overlap
        assert assign(session, californian) == la


def test_the_grouped_choice_picks_what_ranking_every_rep_picks(runtime: Runtime) -> None:
    """``best_candidate`` reads shifts, not every rep (so a roster of 700 costs what one of 7 does): it must
    choose exactly the first of the full ranking, book sizes, ties and full books included."""
    shop = add_shop(runtime).id
    shifts = [
        ("Europe/London", "Mon-Fri 09:00-17:00"),
        ("America/Los_Angeles", "Mon-Fri 09:00-17:00"),
        ("Australia/Sydney", "Mon-Fri 09:00-17:00"),
        ("Europe/London", "Sat-Sun 10:00-16:00"),
    ]
    ids = [
        rep(runtime, shop, f"r{n}@shop.example", zone=shifts[n % 4][0], hours=shifts[n % 4][1], capacity=5)
        for n in range(12)
    ]
    with runtime.session() as session:  # books of assorted sizes, some equal, one full
        for n, rep_id in enumerate(ids):
            session.execute(sa.update(Rep).where(Rep.id == rep_id).values(book_size=[3, 1, 1, 5, 0, 2][n % 6]))
    for customer_zone in ("Europe/London", "America/Los_Angeles", "Australia/Sydney", "Asia/Tokyo", None):
        with runtime.session() as session:
            first = candidates(session, shop, customer_zone)[0]
            assert best_candidate(session, shop, customer_zone) == (first.rep_id, first.name)
            passed = frozenset({first.rep_id})
            second = next(c for c in candidates(session, shop, customer_zone) if c.rep_id not in passed)
            assert best_candidate(session, shop, customer_zone, passed) == (second.rep_id, second.name)


def test_full_books_send_customers_to_the_pool_and_room_fills_it_vips_first(runtime: Runtime) -> None:
    shop = add_shop(runtime).id
    small = rep(runtime, shop, "small@shop.example", capacity=2)
    customers = add_customers(runtime, shop, 5, vip=0)
    with runtime.session() as session:
        session.execute(sa.update(Customer).where(Customer.id == customers[4]).values(segment="vip"))
        assigned = [assign(session, c) for c in customers]
        assert assigned[:2] == [small, small]
        assert assigned[2:] == [None, None, None]
        assert pool_size(session, shop) == 3
    # Room appears: a new rep with space for two takes the VIP first, then the longest waiting.
    other = rep(runtime, shop, "room@shop.example", capacity=2)
    with runtime.session() as session:
        assert pool_size(session, shop) == 1
        held = dict(session.execute(sa.select(Customer.id, Customer.rep_id).where(Customer.id.in_(customers))).all())
        assert held[customers[4]] == other and held[customers[2]] == other and held[customers[3]] is None
        release(session, [customers[0]])  # a customer redacted: their place is room for the pool
        assert fill_from_pool(session, shop) == 1
        assert session.scalar(sa.select(Customer.rep_id).where(Customer.id == customers[3])) == small
    assert all(size == held_ == cap for size, held_, cap in books(runtime, shop).values())


def test_a_leaver_s_book_is_handed_over_with_a_timeline_entry(runtime: Runtime) -> None:
    shop = add_shop(runtime).id
    leaver = rep(runtime, shop, "leaver@shop.example")
    customers = add_customers(runtime, shop, 3)
    with runtime.session() as session:
        for c in customers:
            assign(session, c)
    stays = rep(runtime, shop, "stays@shop.example")
    with runtime.session() as session:
        leaving = session.get(Rep, leaver)
        assert leaving is not None
        leave(session, leaving)
    with runtime.session() as session:
        assert hand_over(session, leaver) == (3, 0)
        assert set(session.scalars(sa.select(Customer.rep_id).where(Customer.id.in_(customers)))) == {stays}
        summaries = session.scalars(sa.select(TimelineEntry.summary).where(TimelineEntry.kind == "rep_handover")).all()
        assert summaries == ["Your new contact is Stays"] * 3
    assert books(runtime, shop)[leaver][:2] == (0, 0)


def _assign_all(args: tuple[dict[str, object], Sequence[int]]) -> list[int | None]:
    settings_fields, customer_ids = args
    runtime = Runtime.from_settings(Settings(**settings_fields))  # type: ignore[arg-type]
    try:
        results = []
        for customer_id in customer_ids:
            with runtime.session() as session:
                results.append(assign(session, customer_id))
        return results
    finally:
        runtime.close()


def test_concurrent_assignment_in_separate_processes_never_exceeds_a_capacity(
    runtime: Runtime, settings: Settings
) -> None:
    shop = add_shop(runtime).id
    reps = [rep(runtime, shop, f"r{i}@shop.example", capacity=7) for i in range(3)]
    customers = add_customers(runtime, shop, 40)
    fields = {
        "database_url": settings.database_url,
        "redis_url": settings.redis_url,
        "instance_path": settings.instance_path,
    }
    # Every process walks the same customers in a different order, so they collide on customers and books.
    orders = [customers, customers[::-1], customers[1::2] + customers[::2], customers[::2] + customers[1::2]]
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.map(_assign_all, [(fields, order) for order in orders])
    state = books(runtime, shop)
    assert sorted(state) == sorted(reps)
    assert all(size == held == 7 for size, held, _cap in state.values()), state
    with runtime.session() as session:
        assert pool_size(session, shop) == 40 - 21
