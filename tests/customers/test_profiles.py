"""Customer profiles: identity matching, purchase totals by deltas, timeline, segments, the CLI."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from integration.core.runtime import Runtime
from integration.customers.models import Customer, CustomerProduct, TimelineEntry
from integration.customers.upserts import apply_change
from integration.events.changes import Address, CustomerChange, OrderChange, OrderLineData, OrderStatus
from integration.shops.models import Shop
from tests.helpers import SHOP_DOMAIN, add_shop, invoke

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PROFILE_KEYS = {
    "id", "platform_ids", "name", "email", "phone", "locale", "city", "region", "country", "time_zone",
    "time_zone_source", "orders_count", "total_spent", "currency", "first_order_at", "last_order_at",
    "segment", "consent", "preferences", "rep", "next_checkin", "orders", "timeline", "products", "product_types",
}  # fmt: skip


def order(
    platform_id: str = "1001",
    *,
    at: dt.datetime = T0,
    updated: dt.datetime | None = None,
    status: OrderStatus = OrderStatus.PAID,
    total: str = "50.00",
    customer: CustomerChange | None = None,
    email: str | None = "Ann@Example.com",
    lines: tuple[OrderLineData, ...] = (OrderLineData(title="Mug", quantity=2, price=Decimal("25"), product_id="p1"),),
) -> OrderChange:
    return OrderChange(
        platform_id=platform_id,
        updated_at=updated or at,
        status=status,
        name=f"#{platform_id}",
        email=email,
        currency="USD",
        total_price=Decimal(total),
        placed_at=at,
        customer=customer,
        shipping_address=Address(city="Portland", region="Oregon", region_code="OR", country_code="US"),
        lines=lines,
    )


def account(platform_id: str = "77", *, at: dt.datetime = T0, email: str = "ann@example.com") -> CustomerChange:
    return CustomerChange(
        platform_id=platform_id,
        updated_at=at,
        email=email,
        first_name="Ann",
        last_name="Lee",
        phone="+1 (503) 555-0100",
        address=Address(city="Portland", region="Oregon", region_code="OR", country_code="US"),
    )


def apply(runtime: Runtime, shop_id: int, *changes: object) -> None:
    with runtime.session() as session:
        for change in changes:
            apply_change(session, shop_id, change)  # type: ignore[arg-type]


def profiles(runtime: Runtime) -> list[Customer]:
    with runtime.session() as session:
        return list(session.scalars(sa.select(Customer).order_by(Customer.id)))


def test_a_guest_order_then_an_account_with_the_same_email_is_one_profile(runtime: Runtime) -> None:
    shop = add_shop(runtime)
    apply(runtime, shop.id, order())
    apply(runtime, shop.id, account(at=T0 + dt.timedelta(days=1)))
    [profile] = profiles(runtime)
    assert (profile.platform_customer_id, profile.email, profile.first_name) == ("77", "ann@example.com", "Ann")
    assert (profile.orders_count, profile.total_spent, profile.segment) == (1, Decimal("50.00"), "new")


def test_a_guest_is_matched_by_phone_when_the_email_differs(runtime: Runtime) -> None:
    shop = add_shop(runtime)
    apply(runtime, shop.id, order(customer=CustomerChange(None, T0, email="a@x.com", phone="503-555-0100")))
    apply(runtime, shop.id, order("1002", customer=CustomerChange(None, T0, email=None, phone="(503) 555 0100")))
    [profile] = profiles(runtime)
    assert profile.orders_count == 2


def test_an_account_never_takes_over_another_accounts_profile_by_email(runtime: Runtime) -> None:
    shop = add_shop(runtime)
    apply(runtime, shop.id, account("77"), account("88", email="other@example.com"))
    assert [p.platform_customer_id for p in profiles(runtime)] == ["77", "88"]


def test_orders_updated_before_orders_create_counts_once_with_the_newer_data(runtime: Runtime) -> None:
    shop = add_shop(runtime)
    newer = order(updated=T0 + dt.timedelta(hours=2), total="60.00", customer=account())
    older = order(total="50.00", customer=account())
    apply(runtime, shop.id, newer)
    apply(runtime, shop.id, older)  # the late orders/create
    apply(runtime, shop.id, newer)  # and a redelivery
    [profile] = profiles(runtime)
    assert (profile.orders_count, profile.total_spent) == (1, Decimal("60.00"))


def test_a_cancellation_takes_the_order_out_of_the_totals_and_the_dates(runtime: Runtime) -> None:
    shop = add_shop(runtime)
    later = T0 + dt.timedelta(days=30)
    apply(runtime, shop.id, order("1", customer=account()), order("2", at=later, total="20.00", customer=account()))
    [profile] = profiles(runtime)
    # Two orders 30 days apart, the last in March: months past twice that interval by now.
    assert (profile.orders_count, profile.total_spent, profile.segment) == (2, Decimal("70.00"), "lapsed")
    assert (profile.first_order_at, profile.last_order_at) == (T0, later)
    assert profile.lapses_at == later + dt.timedelta(days=60)

    cancelled = order("2", at=later, updated=later + dt.timedelta(hours=1), status=OrderStatus.CANCELLED, total="20.00")
    apply(runtime, shop.id, cancelled)
    [profile] = profiles(runtime)
    assert (profile.orders_count, profile.total_spent, profile.cancelled_count) == (1, Decimal("50.00"), 1)
    assert (profile.first_order_at, profile.last_order_at, profile.segment) == (T0, T0, "new")
    assert profile.lapses_at is None  # one order: no usual interval to lapse from
    with runtime.session() as session:
        kinds = set(session.scalars(sa.select(TimelineEntry.kind)))
    assert kinds == {"order", "order_cancelled"}


def test_lapsed_is_stored_and_read_as_of_now(runtime: Runtime) -> None:
    from integration.customers.views import current_segment, list_customers
    from integration.shops.models import Shop

    shop = add_shop(runtime)
    now = dt.datetime.now(UTC).replace(microsecond=0)
    first, second = now - dt.timedelta(days=20), now - dt.timedelta(days=10)
    apply(runtime, shop.id, order("1", at=first, customer=account()), order("2", at=second, customer=account()))
    [profile] = profiles(runtime)
    # Every 10 days so far: lapsed once 20 days pass without an order, i.e. 10 days from now.
    assert (profile.segment, profile.lapses_at) == ("returning", second + dt.timedelta(days=20))
    assert current_segment(profile, now=now + dt.timedelta(days=9)) == "returning"
    assert current_segment(profile, now=now + dt.timedelta(days=11)) == "lapsed"
    with runtime.session() as session:
        shop_row = session.get(Shop, shop.id)
        assert shop_row is not None
        assert list_customers(session, shop_row, segment="lapsed") == []
        assert [c.id for c in list_customers(session, shop_row, segment="returning")] == [profile.id]
    # A third order moves the lapse time on.
    apply(runtime, shop.id, order("3", at=now, customer=account()))
    [profile] = profiles(runtime)
    assert profile.lapses_at == now + dt.timedelta(days=20)


def test_products_bought_follow_line_changes(runtime: Runtime) -> None:
    shop = add_shop(runtime)
    two_mugs = (OrderLineData(title="Mug", quantity=2, product_id="p1"),)
    apply(runtime, shop.id, order(customer=account(), lines=two_mugs))
    edited = (OrderLineData(title="Mug", quantity=1, product_id="p1"), OrderLineData(title="Tea", quantity=3))
    apply(runtime, shop.id, order(customer=account(), updated=T0 + dt.timedelta(hours=1), lines=edited))
    with runtime.session() as session:
        bought = dict(session.execute(sa.select(CustomerProduct.title, CustomerProduct.quantity)).all())
    assert bought == {"Mug": 1, "Tea": 3}


def test_vip_from_the_merchants_threshold(runtime: Runtime) -> None:
    shop = add_shop(runtime, vip_threshold_override=Decimal("40"))
    apply(runtime, shop.id, order(customer=account()))
    assert profiles(runtime)[0].segment == "vip"


def test_time_zone_from_the_address_else_the_shops_marked_so(runtime: Runtime) -> None:
    shop = add_shop(runtime, time_zone="Europe/London")
    apply(runtime, shop.id, account())
    nowhere = CustomerChange("99", T0, email="z@example.com", address=Address(country_code="US"))
    apply(runtime, shop.id, nowhere)
    first, second = profiles(runtime)
    assert (first.time_zone, first.time_zone_source) == ("America/Los_Angeles", "address")
    assert (second.time_zone, second.time_zone_source) == ("Europe/London", "shop")


def test_customers_cli_show_and_list(app: Flask, app_runtime: Runtime) -> None:
    shop = add_shop(app_runtime)
    apply(app_runtime, shop.id, order(customer=account()))

    shown = invoke(app, "customers", "show", SHOP_DOMAIN, "ann@example.com", "--json")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert set(data) == PROFILE_KEYS
    assert (data["total_spent"], data["orders_count"], data["platform_ids"]) == ("50.00", 1, ["77"])
    assert [o["id"] for o in data["orders"]] == ["1001"]
    assert data["timeline"][0]["summary"].startswith("Order #1001")
    by_platform_id = invoke(app, "customers", "show", SHOP_DOMAIN, "77", "--json")
    assert json.loads(by_platform_id.output)["id"] == data["id"]

    listed = invoke(app, "customers", "list", SHOP_DOMAIN, "--segment", "new", "--json")
    assert [row["email"] for row in json.loads(listed.output)] == ["ann@example.com"]
    assert json.loads(invoke(app, "customers", "list", SHOP_DOMAIN, "--segment", "vip", "--json").output) == []

    missing = invoke(app, "customers", "show", SHOP_DOMAIN, "nobody@example.com")
    assert missing.exit_code == 1
    assert "customer not found" in missing.stderr


def test_a_pending_order_is_linked_at_once_and_counts_once_it_is_paid(runtime: Runtime) -> None:
    shop = add_shop(runtime)
    apply(runtime, shop.id, order(status=OrderStatus.PENDING, customer=account()))
    [profile] = profiles(runtime)
    assert (profile.orders_count, profile.total_spent, profile.segment) == (0, Decimal("0.00"), "prospect")
    paid = order(status=OrderStatus.PAID, updated=T0 + dt.timedelta(minutes=5), customer=account())
    apply(runtime, shop.id, paid, paid)
    [profile] = profiles(runtime)
    assert (profile.orders_count, profile.total_spent, profile.segment) == (1, Decimal("50.00"), "new")


def test_the_segments_job_sets_the_top_ten_percent_as_vip(runtime: Runtime) -> None:
    from integration.customers.segments import refresh_shop_segments

    shop = add_shop(runtime)
    for i in range(20):  # spends 10, 20, ... 200
        buyer = CustomerChange(str(i), T0, email=f"b{i}@example.com")
        apply(runtime, shop.id, order(f"o{i}", customer=buyer, total=f"{(i + 1) * 10}.00"))
    with runtime.session() as session:
        refresh_shop_segments(session, shop.id)
        threshold = session.scalar(sa.select(Shop.vip_threshold).where(Shop.id == shop.id))
        vips = set(session.scalars(sa.select(Customer.platform_customer_id).where(Customer.segment == "vip")))
    assert threshold == Decimal("190.00")
    assert vips == {"18", "19"}
    # From now on events compare with the stored threshold, without ranking the shop again.
    apply(runtime, shop.id, order("o-big", customer=CustomerChange("0", T0, email="b0@example.com"), total="500.00"))
    assert {p.platform_customer_id for p in profiles(runtime) if p.segment == "vip"} == {"0", "18", "19"}


def test_the_profile_api_serves_the_same_json_to_the_shops_staff_only(
    client: FlaskClient, app_runtime: Runtime
) -> None:
    from integration.shops.models import StaffRole
    from tests.staff_fixtures import add_staff, sign_in

    shop = add_shop(app_runtime)
    other = add_shop(app_runtime, "bigcommerce", "other0store", "bc-token")
    apply(app_runtime, shop.id, order(customer=account()))
    url = f"/api/shops/{SHOP_DOMAIN}/customers/77"

    assert client.get(url).status_code == 401  # nobody signed in
    sign_in(client, add_staff(app_runtime, other.id, "9", role=StaffRole.ADMIN))
    assert client.get(url).status_code == 404  # another shop's staff: as if it did not exist

    sign_in(client, add_staff(app_runtime, shop.id, "5", role=StaffRole.REP))
    found = client.get(url)
    assert found.status_code == 200
    assert set(found.get_json()) == PROFILE_KEYS
    assert found.headers["Cache-Control"] == "no-store"
    missing = client.get(f"/api/shops/{SHOP_DOMAIN}/customers/nobody@example.com")
    assert (missing.status_code, missing.get_json()) == (404, {"error": "customer not found"})


def test_consent_per_channel_on_its_own_clock_with_a_timeline_fact(runtime: Runtime) -> None:
    from integration.events.changes import ConsentChange, ConsentChannel

    shop = add_shop(runtime)
    later = T0 + dt.timedelta(days=2)
    # Consent first, for someone we have not heard of: a profile is started for them ...
    apply(runtime, shop.id, ConsentChange("77", ConsentChannel.EMAIL, "subscribed", later, email="ann@example.com"))
    # ... and the customer record, older than the consent, still fills it in without touching consent.
    apply(runtime, shop.id, account(at=T0))
    apply(runtime, shop.id, ConsentChange("77", ConsentChannel.EMAIL, "unsubscribed", T0))  # stale: ignored
    apply(runtime, shop.id, ConsentChange("77", ConsentChannel.SMS, "unsubscribed", T0))
    [profile] = profiles(runtime)
    assert (profile.first_name, profile.email) == ("Ann", "ann@example.com")
    assert (profile.email_consent, profile.sms_consent, profile.call_consent) == ("subscribed", "unsubscribed", None)
    with runtime.session() as session:
        facts = list(session.scalars(sa.select(TimelineEntry.summary).order_by(TimelineEntry.at)))
    assert facts == ["SMS consent: unsubscribed", "Email consent: subscribed"]


def test_a_profile_the_session_holds_shows_the_change_applied_in_that_session(runtime: Runtime) -> None:
    """The profile is written with Core statements (prepared, no ORM flush): a copy of it the session
    already holds (an earlier event's reaction loaded it) must not keep the old values."""
    shop = add_shop(runtime)
    apply(runtime, shop.id, account())
    with runtime.session() as session:
        held = session.scalars(sa.select(Customer)).one()
        assert held.email == "ann@example.com"
        later = dataclasses.replace(account(at=T0 + dt.timedelta(hours=1)), email="ann.lee@example.com", tags=("vip",))
        apply_change(session, shop.id, later)
        assert (held.email, held.tags) == ("ann.lee@example.com", json.dumps(["vip"]))
