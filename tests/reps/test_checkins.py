"""Check-ins: a call once the order reached the customer, one open task per customer, at most one call per
30 days, none for those who want none. Changes are applied as processing applies them (see conftest)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from integration.customers.models import Customer, Order
from integration.customers.views import rep_and_next_checkin
from integration.events.changes import CustomerDeleted, FulfillmentChange, FulfillmentStatus, OrderStatus
from integration.platforms.bigcommerce.adapter import fulfillment_change
from integration.reps.listing import list_checkins
from integration.reps.models import CheckIn, CheckInStatus
from integration.reps.outcomes import record_outcome
from integration.reps.timers import make_due
from integration.shops.models import Shop
from tests.fakes.bigcommerce_api import sample_shipment
from tests.reps.conftest import World, utc

DELIVERED = utc(2027, 3, 4, 15)  # a Thursday
MONDAY_10 = utc(2027, 3, 8, 10)  # delivery + 2 days is a Saturday: the next slot in both windows
NOW = utc(2027, 3, 4, 15, 5)


def order_id(world: World, number: int) -> int:
    with world.runtime.session() as session:
        return int(session.scalars(sa.select(Order.id).where(Order.platform_order_id == str(number))).one())


def test_a_delivery_opens_one_check_in_in_the_first_slot_of_both_windows(world: World) -> None:
    dana = world.rep("dana@shop.example")
    world.order(1001, now=NOW)
    assert world.checkins() == []  # paid, not shipped: nothing to call about yet
    world.deliver(1001, DELIVERED, now=NOW)
    checkin = world.only_checkin()
    assert (checkin.kind, checkin.status, checkin.rep_id) == ("post_purchase", CheckInStatus.SCHEDULED, dana)
    assert (checkin.delivered_at, checkin.delivery_estimated) == (DELIVERED, False)
    assert (checkin.due_at, checkin.outside_window) == (MONDAY_10, False)
    assert world.orders_of(checkin.id) == [order_id(world, 1001)]

    world.deliver(1001, DELIVERED, now=NOW)  # the same event again (a replay)
    assert [(c.id, c.due_at) for c in world.checkins()] == [(checkin.id, MONDAY_10)]
    with world.runtime.session() as session:
        customer = session.scalars(sa.select(Customer)).one()
        shown = rep_and_next_checkin(session, customer)
    assert shown["next_checkin"] == {"id": checkin.id, "due_at": "2027-03-08T10:00:00Z", "status": "scheduled"}
    assert shown["rep"] == {"name": "Dana", "email": "dana@shop.example"}


@pytest.mark.parametrize(
    ("status", "test", "parcel"),
    [
        (OrderStatus.PAID, True, "delivered"),  # a test order
        (OrderStatus.CANCELLED, False, "delivered"),
        (OrderStatus.REFUNDED, False, "delivered"),
        (OrderStatus.PAID, False, None),  # unfulfilled
        (OrderStatus.PAID, False, "pending"),  # a fulfilment requested, nothing shipped
    ],
)
def test_orders_that_never_trigger(world: World, status: OrderStatus, test: bool, parcel: str | None) -> None:
    world.rep("dana@shop.example")
    world.order(1001, status=status, test=test, now=NOW)
    if parcel == "delivered":
        world.deliver(1001, DELIVERED, now=NOW)
    elif parcel == "pending":
        world.apply(FulfillmentChange("f-1001", "1001", DELIVERED, FulfillmentStatus.PENDING), now=NOW)
    assert world.checkins() == []
    # The same order paid, real and delivered does trigger: the cases above fail for their reason only.
    world.order(1001, status=OrderStatus.PAID, at=utc(2027, 3, 2), now=NOW)
    world.deliver(1001, DELIVERED, now=NOW)
    assert len(world.checkins()) == 1


def test_a_shipment_is_estimated_with_the_transit_days_and_a_real_delivery_moves_it(world: World) -> None:
    world.rep("dana@shop.example")
    world.settings(transit_days=2)
    world.order(1001, now=NOW)
    world.ship(1001, utc(2027, 3, 1, 12), now=utc(2027, 3, 1, 12))  # Monday: + 2 transit + 2 delay = Friday
    checkin = world.only_checkin()
    assert (checkin.delivered_at, checkin.delivery_estimated) == (utc(2027, 3, 3, 12), True)
    assert checkin.due_at == utc(2027, 3, 5, 12)
    world.deliver(1001, utc(2027, 3, 2, 9), now=utc(2027, 3, 2, 9))  # it arrived a day early
    moved = world.only_checkin()
    assert (moved.id, moved.delivered_at, moved.delivery_estimated) == (checkin.id, utc(2027, 3, 2, 9), False)
    assert moved.due_at == utc(2027, 3, 4, 10)  # Thursday 09:00 + the window opening at 10:00


def test_a_task_already_due_is_not_moved_by_a_late_delivery_report(world: World) -> None:
    world.rep("dana@shop.example")
    world.order(1001, now=NOW)
    world.ship(1001, utc(2027, 3, 1, 12), now=utc(2027, 3, 1, 12))
    due_at = world.only_checkin().due_at
    with world.runtime.session() as session:
        assert make_due(session, world.only_checkin().id, now=due_at)
    world.deliver(1001, utc(2027, 3, 2, 9), now=due_at)
    checkin = world.only_checkin()
    assert (checkin.status, checkin.due_at, checkin.delivery_estimated) == ("due", due_at, False)


def test_bigcommerce_shipments_and_shipped_orders_trigger_with_transit_days(world: World) -> None:
    world.rep("dana@shop.example")
    world.order(218, now=NOW)
    # What the BigCommerce adapter makes of a shipment it fetched (store/shipment/created).
    shipment = sample_shipment(id=12, order_id=218, date_created="Mon, 01 Mar 2027 12:00:00 +0000")
    world.apply(fulfillment_change("218", "12", shipment, None), now=utc(2027, 3, 1, 12))
    checkin = world.only_checkin()
    assert (checkin.delivered_at, checkin.delivery_estimated) == (utc(2027, 3, 5, 12), True)
    assert checkin.due_at == utc(2027, 3, 8, 10)  # Sunday noon: Monday at ten

    # An order whose status went to Shipped or Completed, with no shipment known: from that change.
    world.order(219, email="bo@example.com", status=OrderStatus.FULFILLED, at=utc(2027, 3, 2, 16), now=NOW)
    with world.runtime.session() as session:
        bo = session.scalars(sa.select(CheckIn).join(Customer).where(Customer.email == "bo@example.com")).one()
    assert (bo.delivered_at, bo.delivery_estimated) == (utc(2027, 3, 6, 16), True)
    assert bo.due_at == utc(2027, 3, 8, 16)


def test_a_second_delivery_before_the_call_folds_into_the_open_task(world: World) -> None:
    world.rep("dana@shop.example")
    world.order(1001, now=NOW)
    world.order(1002, now=NOW)
    world.deliver(1001, DELIVERED, now=NOW)
    world.deliver(1002, utc(2027, 3, 5, 11), now=utc(2027, 3, 5, 11))
    checkin = world.only_checkin()
    assert checkin.due_at == MONDAY_10
    assert world.orders_of(checkin.id) == [order_id(world, 1001), order_id(world, 1002)]
    with world.runtime.session() as session:
        (view,) = list_checkins(session, world.shop_id)
    assert view.orders == ("#1001", "#1002")


def test_cancelling_or_refunding_the_only_order_cancels_the_task_and_one_of_two_leaves_it(world: World) -> None:
    world.rep("dana@shop.example")
    for number in (1001, 1002):
        world.order(number, now=NOW)
        world.deliver(number, DELIVERED, now=NOW)
    checkin = world.only_checkin()
    world.order(1002, status=OrderStatus.REFUNDED, at=utc(2027, 3, 5), now=utc(2027, 3, 5))
    assert world.only_checkin().status == CheckInStatus.SCHEDULED
    assert world.orders_of(checkin.id) == [order_id(world, 1001)]
    world.order(1001, status=OrderStatus.CANCELLED, at=utc(2027, 3, 6), now=utc(2027, 3, 6))
    cancelled = world.only_checkin()
    assert (cancelled.status, cancelled.close_reason, cancelled.closed_at) == (
        CheckInStatus.CANCELLED,
        "order cancelled",
        utc(2027, 3, 6),
    )


def test_a_customer_who_wants_no_calls_gets_none_and_loses_the_open_one(world: World) -> None:
    world.rep("dana@shop.example")
    world.order(1001, now=NOW)
    world.deliver(1001, DELIVERED, now=NOW)
    world.no_calls("ann@example.com", utc(2027, 3, 5), state="subscribed")  # consent that allows calls
    assert world.only_checkin().status == CheckInStatus.SCHEDULED
    world.no_calls("ann@example.com", utc(2027, 3, 6))
    checkin = world.only_checkin()
    assert (checkin.status, checkin.close_reason) == (CheckInStatus.CANCELLED, "customer does not want calls")
    world.order(1002, now=NOW)
    world.deliver(1002, utc(2027, 4, 20), now=utc(2027, 4, 20))
    assert len(world.checkins()) == 1


def test_at_most_one_call_per_thirty_days(world: World) -> None:
    dana = world.rep("dana@shop.example")
    world.order(1001, now=NOW)
    world.deliver(1001, DELIVERED, now=NOW)
    first = world.only_checkin()
    with world.runtime.session() as session:
        record_outcome(session, first.id, dana, "reached", recommend=9, now=utc(2027, 3, 8, 10, 5))
    world.order(1002, now=NOW)
    world.deliver(1002, utc(2027, 3, 20, 12), now=utc(2027, 3, 20, 12))  # its call would be 2 weeks after
    assert [c.id for c in world.checkins()] == [first.id]
    world.order(1003, now=NOW)
    world.deliver(1003, utc(2027, 4, 12, 12), now=utc(2027, 4, 12, 12))  # 36 days after the call
    second = world.checkins()[-1]
    assert second.id != first.id and second.status == CheckInStatus.SCHEDULED
    assert world.orders_of(second.id) == [order_id(world, 1003)]


def test_the_shop_chooses_the_days_between_calls_and_cancelled_tasks_do_not_count(world: World) -> None:
    dana = world.rep("dana@shop.example")
    world.settings(min_days_between=60)
    world.order(1001, now=NOW)
    world.deliver(1001, DELIVERED, now=NOW)
    first = world.only_checkin()
    with world.runtime.session() as session:
        record_outcome(session, first.id, dana, "reached", now=utc(2027, 3, 8, 10, 5))
    world.order(1002, now=NOW)
    world.deliver(1002, utc(2027, 4, 12, 12), now=utc(2027, 4, 12, 12))  # 37 days on: not for this shop
    assert [c.id for c in world.checkins()] == [first.id]
    with world.runtime.session() as session:
        session.execute(sa.update(CheckIn).values(status=CheckInStatus.CANCELLED))
    world.order(1003, now=NOW)
    world.deliver(1003, utc(2027, 4, 14, 12), now=utc(2027, 4, 14, 12))
    assert len(world.checkins()) == 2


def test_an_old_delivery_from_a_backfill_is_history_not_a_task(world: World) -> None:
    world.rep("dana@shop.example")
    world.order(1001, now=NOW)
    world.deliver(1001, utc(2027, 1, 4), now=utc(2027, 3, 1))
    assert world.checkins() == []
    world.deliver(1001, utc(2027, 2, 20), now=utc(2027, 3, 1))  # due 22 Feb: a week late, still worth a call
    assert world.only_checkin().due_at == utc(2027, 3, 1, 10)  # from now, in the next slot


def test_a_parcel_reported_before_its_order_triggers_when_the_order_arrives(world: World) -> None:
    world.rep("dana@shop.example")
    world.deliver(1001, DELIVERED, now=NOW)
    assert world.checkins() == []
    world.order(1001, now=NOW)
    assert world.only_checkin().due_at == MONDAY_10


def test_a_customer_waiting_in_the_pool_gets_their_rep_on_the_task(world: World) -> None:
    world.order(1001, now=NOW)  # no reps yet: the customer waits in the pool
    world.deliver(1001, DELIVERED, now=NOW)
    checkin = world.only_checkin()
    assert checkin.rep_id is None
    assert checkin.due_at == MONDAY_10  # the customer's own window (10:00 London)
    eli = world.rep("eli@shop.example")  # room appears: the pool is assigned first
    assert world.only_checkin().rep_id == eli


def test_a_deleted_customer_keeps_no_open_task(world: World) -> None:
    world.rep("dana@shop.example")
    world.order(1001, now=NOW)
    world.deliver(1001, DELIVERED, now=NOW)
    world.apply(CustomerDeleted("cust-ann@example.com", utc(2027, 3, 5)), now=utc(2027, 3, 5))
    assert (world.only_checkin().status, world.only_checkin().close_reason) == ("cancelled", "customer deleted")


def test_the_shop_zone_stands_in_for_a_customer_without_one(world: World) -> None:
    world.rep("dana@shop.example", zone="America/New_York", hours="Mon-Fri 08:00-20:00")
    with world.runtime.session() as session:
        session.execute(sa.update(Shop).values(time_zone="America/New_York"))
    world.order(1001, now=NOW)
    with world.runtime.session() as session:
        session.execute(sa.update(Customer).values(time_zone=None))
    world.deliver(1001, DELIVERED, now=NOW)
    assert world.only_checkin().due_at == utc(2027, 3, 8, 15)  # Monday 10:00 in New York (EST), not London
