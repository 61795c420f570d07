"""Applying changes: idempotent, and never letting an older payload overwrite a newer one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa

from integration.core.runtime import Runtime
from integration.customers.models import Customer, Fulfillment, Order, OrderLine
from integration.customers.upserts import apply_change, upsert_customer, upsert_order
from integration.events.changes import (
    Address,
    CustomerChange,
    CustomerDeleted,
    DeliveryProgress,
    FulfillmentChange,
    FulfillmentStatus,
    OrderChange,
    OrderLineData,
    OrderStatus,
)
from integration.shops.registry import RegisteredShop
from tests.helpers import add_shop

T0 = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(hours=1)
T2 = T0 + dt.timedelta(hours=2)


def customer_change(updated_at: dt.datetime = T0, **overrides: object) -> CustomerChange:
    values: dict[str, object] = {
        "platform_id": "9001",
        "updated_at": updated_at,
        "email": "  Ada@Example.COM ",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "+441234",
        "locale": "en-GB",
        "address": Address(city="London", region="England", region_code="ENG", country_code="GB", postal_code="N1"),
    }
    values.update(overrides)
    return CustomerChange(**values)  # type: ignore[arg-type]


def order_change(updated_at: dt.datetime = T0, **overrides: object) -> OrderChange:
    values: dict[str, object] = {
        "platform_id": "5001",
        "updated_at": updated_at,
        "status": OrderStatus.PENDING,
        "platform_status": "pending/",
        "name": "#1001",
        "email": "Ada@Example.com",
        "currency": "EUR",
        "total_price": Decimal("10.50"),
        "placed_at": T0 - dt.timedelta(minutes=5),
        "shipping_address": Address(city="Paris", region="IDF", country_code="FR"),
        "lines": (OrderLineData(title="Mug", quantity=1, price=Decimal("10.50"), platform_line_id="l1", sku="MUG"),),
    }
    values.update(overrides)
    return OrderChange(**values)  # type: ignore[arg-type]


def apply(runtime: Runtime, shop_id: int, *changes: object) -> None:
    for change in changes:
        with runtime.session() as session:
            apply_change(session, shop_id, change)  # type: ignore[arg-type]


def the_order(runtime: Runtime) -> tuple[Order, list[tuple[str, int, Decimal | None, str | None]]]:
    with runtime.session() as session:
        order = session.scalars(sa.select(Order)).one()
        lines = [
            (line.title, line.quantity, line.price, line.platform_line_id)
            for line in session.scalars(sa.select(OrderLine).order_by(OrderLine.id))
        ]
        return order, lines


def the_customer(runtime: Runtime) -> Customer:
    with runtime.session() as session:
        return session.scalars(sa.select(Customer)).one()


def the_fulfillment(runtime: Runtime) -> Fulfillment:
    with runtime.session() as session:
        return session.scalars(sa.select(Fulfillment)).one()


def count(runtime: Runtime, model: type) -> int:
    with runtime.session() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


# --- orders ----------------------------------------------------------------------------------------


def test_order_insert_stores_every_field(runtime: Runtime, shop: RegisteredShop) -> None:
    apply(runtime, shop.id, order_change())
    order, lines = the_order(runtime)
    assert order.shop_id == shop.id
    assert order.platform_order_id == "5001"
    assert (order.name, order.email, order.currency, order.total_price) == (
        "#1001",
        "ada@example.com",
        "EUR",
        Decimal("10.50"),
    )
    assert (order.status, order.platform_status) == ("pending", "pending/")
    assert order.placed_at == T0 - dt.timedelta(minutes=5)
    assert order.cancelled_at is None
    assert (order.ship_city, order.ship_region, order.ship_country_code) == ("Paris", "IDF", "FR")
    assert order.source_updated_at == T0
    assert lines == [("Mug", 1, Decimal("10.50"), "l1")]
    # A guest checkout still belongs to a person: a profile found (or made) from the order's email.
    with runtime.session() as session:
        guest = session.get(Customer, order.customer_id)
        assert guest is not None
        assert (guest.platform_customer_id, guest.email, guest.orders_count) == (None, "ada@example.com", 0)


def test_reapplying_the_same_change_is_idempotent(runtime: Runtime, shop: RegisteredShop) -> None:
    change = order_change(customer=customer_change())
    apply(runtime, shop.id, change)
    first, first_lines = the_order(runtime)
    apply(runtime, shop.id, change, change)
    again, again_lines = the_order(runtime)
    assert again.id == first.id
    assert again_lines == first_lines
    assert (again.status, again.total_price, again.source_updated_at) == (
        first.status,
        first.total_price,
        first.source_updated_at,
    )
    assert count(runtime, Order) == 1
    assert count(runtime, OrderLine) == 1
    assert count(runtime, Customer) == 1


def test_newer_then_older_order_keeps_the_newer_data(runtime: Runtime, shop: RegisteredShop) -> None:
    newer = order_change(
        T2,
        status=OrderStatus.PAID,
        platform_status="paid/",
        total_price=Decimal("25.00"),
        lines=(
            OrderLineData(title="Mug", quantity=2, price=Decimal("10.50"), platform_line_id="l1"),
            OrderLineData(title="Tea", quantity=1, price=Decimal("4.00"), platform_line_id="l2"),
        ),
    )
    older = order_change(T1, status=OrderStatus.PENDING, total_price=Decimal("10.50"))
    apply(runtime, shop.id, newer)
    with runtime.session() as session:
        assert upsert_order(session, shop.id, older) is None  # refused
    order, lines = the_order(runtime)
    assert order.status == "paid"
    assert order.platform_status == "paid/"
    assert order.total_price == Decimal("25.00")
    assert order.source_updated_at == T2
    assert lines == [("Mug", 2, Decimal("10.50"), "l1"), ("Tea", 1, Decimal("4.00"), "l2")]


def test_older_then_newer_order_is_updated(runtime: Runtime, shop: RegisteredShop) -> None:
    apply(runtime, shop.id, order_change(T1))
    first, _ = the_order(runtime)
    apply(
        runtime,
        shop.id,
        order_change(
            T2,
            status=OrderStatus.CANCELLED,
            platform_status="voided/",
            total_price=Decimal("0.00"),
            cancelled_at=T2,
            name="#1001-B",
            shipping_address=None,
        ),
    )
    order, _ = the_order(runtime)
    assert order.id == first.id
    assert (order.status, order.platform_status, order.total_price, order.name) == (
        "cancelled",
        "voided/",
        Decimal("0.00"),
        "#1001-B",
    )
    assert order.cancelled_at == T2
    assert order.source_updated_at == T2
    assert (order.ship_city, order.ship_country_code) == (None, None)
    assert order.created_at == first.created_at
    assert order.updated_at >= first.updated_at


def test_a_newer_change_replaces_the_lines(runtime: Runtime, shop: RegisteredShop) -> None:
    apply(
        runtime,
        shop.id,
        order_change(
            T1,
            lines=(
                OrderLineData(title="Mug", quantity=1, platform_line_id="l1"),
                OrderLineData(title="Pot", quantity=1, platform_line_id="l2"),
            ),
        ),
    )
    apply(runtime, shop.id, order_change(T2, lines=(OrderLineData(title="Cup", quantity=3, sku="CUP"),)))
    _, lines = the_order(runtime)
    assert lines == [("Cup", 3, None, None)]
    assert count(runtime, OrderLine) == 1
    # An order whose newest version has no lines keeps none.
    apply(runtime, shop.id, order_change(T2 + dt.timedelta(seconds=1), lines=()))
    assert count(runtime, OrderLine) == 0


def test_orders_of_different_shops_are_separate(runtime: Runtime, shop: RegisteredShop) -> None:
    other = add_shop(runtime, "shopify", "other-shop.myshopify.com")
    apply(runtime, shop.id, order_change(T2, total_price=Decimal("1.00")))
    apply(runtime, other.id, order_change(T1, total_price=Decimal("2.00")))
    with runtime.session() as session:
        totals = {row[0]: row[1] for row in session.execute(sa.select(Order.shop_id, Order.total_price))}
    assert totals == {shop.id: Decimal("1.00"), other.id: Decimal("2.00")}


def test_customer_embedded_in_an_order_is_upserted_and_linked(runtime: Runtime, shop: RegisteredShop) -> None:
    apply(runtime, shop.id, order_change(T1, customer=customer_change(T0)))
    order, _ = the_order(runtime)
    customer = the_customer(runtime)
    assert order.customer_id == customer.id
    assert customer.shop_id == shop.id
    assert customer.platform_customer_id == "9001"
    assert customer.email == "ada@example.com"
    assert (customer.first_name, customer.last_name, customer.phone, customer.locale) == (
        "Ada",
        "Lovelace",
        "+441234",
        "en-GB",
    )
    assert (
        customer.city,
        customer.region,
        customer.region_code,
        customer.country_code,
        customer.postal_code,
    ) == (
        "London",
        "England",
        "ENG",
        "GB",
        "N1",
    )
    assert customer.source_updated_at == T0


def test_older_order_still_links_to_the_existing_newer_customer(runtime: Runtime, shop: RegisteredShop) -> None:
    # The customer is known from a newer customers/update; an older order arrives with an older copy.
    apply(runtime, shop.id, customer_change(T2, first_name="Augusta"))
    apply(runtime, shop.id, order_change(T1, customer=customer_change(T0, first_name="Ada")))
    order, _ = the_order(runtime)
    customer = the_customer(runtime)
    assert order.customer_id == customer.id
    assert customer.first_name == "Augusta"  # the older embedded copy did not win
    assert customer.source_updated_at == T2


# --- customers -------------------------------------------------------------------------------------


def test_customer_changes_apply_in_platform_order(runtime: Runtime, shop: RegisteredShop) -> None:
    with runtime.session() as session:
        first_id = upsert_customer(session, shop.id, customer_change(T1, phone="+1"))
    with runtime.session() as session:
        # An older change is refused but still answers with the customer's id.
        assert upsert_customer(session, shop.id, customer_change(T0, phone="+0")) == first_id
    assert the_customer(runtime).phone == "+1"
    apply(runtime, shop.id, customer_change(T2, phone="+2", address=None))
    customer = the_customer(runtime)
    assert customer.id == first_id
    assert customer.phone == "+2"
    assert customer.city is None
    assert customer.source_updated_at == T2


def test_customer_deleted_applies_only_if_newer(runtime: Runtime, shop: RegisteredShop) -> None:
    apply(runtime, shop.id, customer_change(T1))
    apply(runtime, shop.id, CustomerDeleted(platform_id="9001", updated_at=T0))  # older: ignored
    customer = the_customer(runtime)
    assert customer.deleted_at is None
    assert customer.source_updated_at == T1

    apply(runtime, shop.id, CustomerDeleted(platform_id="9001", updated_at=T2))
    customer = the_customer(runtime)
    assert customer.deleted_at == T2
    assert customer.source_updated_at == T2

    # A late, older update does not bring the deleted customer's data back.
    apply(runtime, shop.id, customer_change(T1, first_name="Late"))
    customer = the_customer(runtime)
    assert customer.first_name == "Ada"
    assert customer.deleted_at == T2


def test_customer_deleted_for_an_unknown_customer_changes_nothing(runtime: Runtime, shop: RegisteredShop) -> None:
    apply(runtime, shop.id, CustomerDeleted(platform_id="404", updated_at=T2))
    assert count(runtime, Customer) == 0


# --- fulfilments -----------------------------------------------------------------------------------


def fulfillment_change(updated_at: dt.datetime = T1, **overrides: object) -> FulfillmentChange:
    values: dict[str, object] = {
        "platform_id": "7001",
        "order_platform_id": "5001",
        "updated_at": updated_at,
        "status": FulfillmentStatus.SHIPPED,
        "tracking_company": "Canada Post",
        "tracking_number": "TRACK-1",
        "tracking_url": "https://track.example/1",
        "shipped_at": T1,
    }
    values.update(overrides)
    return FulfillmentChange(**values)  # type: ignore[arg-type]


def progress(happened_at: dt.datetime, status: FulfillmentStatus = FulfillmentStatus.DELIVERED) -> DeliveryProgress:
    return DeliveryProgress(
        fulfillment_platform_id="7001", order_platform_id="5001", happened_at=happened_at, status=status
    )


def test_fulfillment_then_delivery_progress_sets_delivered_at(runtime: Runtime, shop: RegisteredShop) -> None:
    apply(runtime, shop.id, fulfillment_change(T1))
    apply(runtime, shop.id, progress(T1 + dt.timedelta(minutes=30), FulfillmentStatus.OUT_FOR_DELIVERY))
    f = the_fulfillment(runtime)
    assert f.status == "out_for_delivery"
    assert f.delivered_at is None

    apply(runtime, shop.id, progress(T2))
    f = the_fulfillment(runtime)
    assert f.status == "delivered"
    assert f.delivered_at == T2
    assert (f.status_updated_at, f.source_updated_at) == (T2, T1)  # status and description keep own clocks
    # The tracking step changed the status only.
    assert (f.tracking_company, f.tracking_number, f.tracking_url, f.shipped_at) == (
        "Canada Post",
        "TRACK-1",
        "https://track.example/1",
        T1,
    )
    assert f.platform_order_id == "5001"


def test_an_older_delivery_progress_does_not_move_the_status_back(runtime: Runtime, shop: RegisteredShop) -> None:
    apply(runtime, shop.id, fulfillment_change(T1), progress(T2))
    apply(runtime, shop.id, progress(T1 + dt.timedelta(minutes=1), FulfillmentStatus.IN_TRANSIT))
    f = the_fulfillment(runtime)
    assert f.status == "delivered"
    assert f.delivered_at == T2


def test_delivery_progress_before_the_fulfillment_starts_a_row_the_fulfillment_completes(
    runtime: Runtime, shop: RegisteredShop
) -> None:
    apply(runtime, shop.id, progress(T1))
    f = the_fulfillment(runtime)
    assert (f.status, f.delivered_at, f.platform_order_id) == ("delivered", T1, "5001")
    assert (f.tracking_number, f.shipped_at) == (None, None)

    # fulfillments/update, newer than the tracking step, without a delivery time of its own.
    apply(runtime, shop.id, fulfillment_change(T2, status=FulfillmentStatus.DELIVERED))
    f = the_fulfillment(runtime)
    assert f.delivered_at == T1  # not lost
    assert (f.tracking_company, f.tracking_number, f.tracking_url, f.shipped_at) == (
        "Canada Post",
        "TRACK-1",
        "https://track.example/1",
        T1,
    )
    assert f.status == "delivered"
    assert f.source_updated_at == T2
    assert count(runtime, Fulfillment) == 1


def test_a_fulfillment_with_its_own_delivery_time_sets_it(runtime: Runtime, shop: RegisteredShop) -> None:
    apply(runtime, shop.id, fulfillment_change(T1))
    apply(runtime, shop.id, fulfillment_change(T2, status=FulfillmentStatus.DELIVERED, delivered_at=T2))
    f = the_fulfillment(runtime)
    assert (f.status, f.delivered_at) == ("delivered", T2)


def test_an_older_fulfillment_change_is_refused(runtime: Runtime, shop: RegisteredShop) -> None:
    apply(runtime, shop.id, fulfillment_change(T2, tracking_number="NEW"))
    apply(runtime, shop.id, fulfillment_change(T1, tracking_number="OLD", status=FulfillmentStatus.PENDING))
    f = the_fulfillment(runtime)
    assert (f.tracking_number, f.status, f.source_updated_at) == ("NEW", "shipped", T2)


def test_a_late_fulfillment_created_before_the_delivery_step_still_fills_in_tracking(
    runtime: Runtime, shop: RegisteredShop
) -> None:
    # Webhooks are delayed and reordered: the fulfilment was created (T1) before the parcel was
    # delivered (T2), but the delivery step is processed first.
    apply(runtime, shop.id, progress(T2))
    apply(runtime, shop.id, fulfillment_change(T1))
    f = the_fulfillment(runtime)
    assert (f.status, f.delivered_at) == ("delivered", T2)  # the newer step's status stays
    assert (f.tracking_company, f.tracking_number, f.tracking_url, f.shipped_at) == (
        "Canada Post",
        "TRACK-1",
        "https://track.example/1",
        T1,
    )
