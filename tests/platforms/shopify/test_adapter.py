"""The Shopify adapter: stored webhook bodies become the right changes, and bad ones are refused."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from integration.events.changes import (
    Address,
    ConsentChange,
    ConsentChannel,
    CustomerChange,
    DeliveryProgress,
    DiscountCodeUse,
    FulfillmentChange,
    FulfillmentStatus,
    OrderChange,
    OrderStatus,
    ShopUninstalled,
    Skip,
)
from integration.platforms.interfaces import BadPayload, ShopAccess, StoredEvent
from integration.platforms.shopify.adapter import ShopifyAdapter
from integration.platforms.shopify.topics import (
    SHOP_DOMAIN_RE,
    TOPICS_HANDLED,
    TOPICS_STORED,
    parse_timestamp,
    valid_shop_domain,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "shopify"
SHOP = ShopAccess(shop_id=1, identifier="jsmith.myshopify.com", access_token=None)
ORDER_TOPICS = sorted(t for t in TOPICS_HANDLED if t.startswith("orders/"))
PII = "very-private-person@example.com"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=dt.UTC)


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(fixture_bytes(name))
    return loaded


def raw_ids(name: str) -> dict[str, Any]:
    """The fixture with every JSON integer kept as its literal digits, independent of the adapter."""
    loaded: dict[str, Any] = json.loads(fixture_bytes(name), parse_int=str)
    return loaded


def event(topic: str, body: bytes | dict[str, Any], triggered_at: dt.datetime | None = None) -> StoredEvent:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return StoredEvent(
        id=7,
        platform="shopify",
        shop=SHOP.identifier,
        topic=topic,
        body=raw,
        triggered_at=triggered_at,
        api_version="2026-04",
    )


def translate_one(topic: str, body: bytes | dict[str, Any], triggered_at: dt.datetime | None = None) -> Any:
    result = ShopifyAdapter().translate(event(topic, body, triggered_at), SHOP)
    assert not isinstance(result, Skip), result
    assert len(result) == 1
    return result[0]


def bad_payload(topic: str, body: bytes | dict[str, Any]) -> BadPayload:
    with pytest.raises(BadPayload) as caught:
        ShopifyAdapter().translate(event(topic, body), SHOP)
    return caught.value


# --- topics ----------------------------------------------------------------------------------------


def test_topic_sets_are_the_agreed_ones() -> None:
    assert {
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/fulfilled",
        "orders/cancelled",
        "customers/create",
        "customers/update",
        "fulfillments/create",
        "fulfillments/update",
        "fulfillment_events/create",
        "customers_email_marketing_consent/update",
        "customers_marketing_consent/update",
    } == TOPICS_HANDLED
    assert {"customers/data_request", "customers/redact", "shop/redact", "app/uninstalled"} == TOPICS_STORED


def test_adapter_handles_only_the_handled_topics() -> None:
    adapter = ShopifyAdapter()
    assert adapter.platform == "shopify"
    assert all(adapter.handles(topic) for topic in TOPICS_HANDLED)
    # app/uninstalled becomes a lifecycle change; the compliance topics are only stored.
    assert adapter.handles("app/uninstalled")
    assert not any(adapter.handles(topic) for topic in TOPICS_STORED - {"app/uninstalled"})
    assert not adapter.handles("orders/delete")


def test_app_uninstalled_is_a_shop_uninstalled_change_at_its_trigger_time() -> None:
    at = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
    stored = event("app/uninstalled", b'{"id": 1}', triggered_at=at)
    assert ShopifyAdapter().translate(stored, SHOP) == (ShopUninstalled(at),)


@pytest.mark.parametrize("topic", ["orders/delete", "products/update", "shop/redact", ""])
def test_other_topics_are_skipped_without_reading_the_body(topic: str) -> None:
    result = ShopifyAdapter().translate(event(topic, b"not json at all"), SHOP)
    assert result == Skip("topic not handled")


# --- orders ----------------------------------------------------------------------------------------


def test_orders_create_sample_becomes_an_order_change_with_every_field() -> None:
    raw = raw_ids("shopify_orders_create.json")
    change = translate_one("orders/create", fixture_bytes("shopify_orders_create.json"))

    assert isinstance(change, OrderChange)
    # The JSON's own integer, digit for digit; a float detour would give ...496, the GID says ...508.
    assert change.platform_id == raw["id"] == "820982911946154500"
    assert change.updated_at == utc(2022, 1, 1)
    assert change.status is OrderStatus.CANCELLED
    assert change.platform_status == "voided/"
    assert change.name == "#9999"
    assert change.email == "jon@example.com"
    assert change.currency == "USD"
    assert change.total_price == Decimal("404.95")
    assert change.placed_at == utc(2022, 1, 1)
    assert change.cancelled_at == utc(2022, 1, 1)
    assert change.shipping_address == Address(
        city="Shippington", region="Kentucky", region_code="KY", country_code="US", postal_code="40003"
    )


def test_orders_create_sample_without_codes_has_none() -> None:
    change = translate_one("orders/create", fixture_bytes("shopify_orders_create.json"))
    assert change.discount_codes == ()


def test_order_discount_codes_are_normalised_and_odd_entries_dropped() -> None:
    body = fixture("shopify_orders_create.json")
    # The REST order's shape: [{code, amount, type}], amount a decimal string in the shop's currency.
    body["discount_codes"] = [
        {"code": "thanks-ab12cd34", "amount": "12.50", "type": "percentage"},
        {"code": "SHIPFREE", "amount": "5.00", "type": "shipping"},
        {"code": "   ", "amount": "1.00", "type": "fixed_amount"},
        {"amount": "1.00"},
        "not an object",
        {"code": "ODD", "amount": "lots", "type": 7},
    ]
    change = translate_one("orders/create", body)

    assert change.discount_codes == (
        DiscountCodeUse(code="thanks-ab12cd34", amount=Decimal("12.50"), kind="percentage"),
        DiscountCodeUse(code="SHIPFREE", amount=Decimal("5.00"), kind="shipping"),
        DiscountCodeUse(code="ODD", amount=None, kind=None),
    )


def test_a_reconciled_orders_graphql_discount_codes_become_the_rest_shape() -> None:
    from integration.platforms.shopify.orders import reconciled_order
    from integration.platforms.shopify.shapes import rest_order

    node = {
        "legacyResourceId": "1001",
        "updatedAt": "2026-12-01T10:00:00Z",
        "displayFinancialStatus": "PAID",
        "discountCodes": ["THANKS-AB12CD34", 7],
    }
    [change] = reconciled_order(rest_order(node))

    assert isinstance(change, OrderChange)
    assert change.discount_codes == (DiscountCodeUse(code="THANKS-AB12CD34"),)


def test_orders_create_sample_lines_keep_exact_ids_and_decimal_prices() -> None:
    raw = raw_ids("shopify_orders_create.json")
    change = translate_one("orders/create", fixture_bytes("shopify_orders_create.json"))

    assert [line.platform_line_id for line in change.lines] == [item["id"] for item in raw["line_items"]]
    assert [line.title for line in change.lines] == [item["title"] for item in raw["line_items"]]
    first = change.lines[0]
    assert first.product_id == raw["line_items"][0]["product_id"] == "788032119674292900"
    assert first.variant_id is None
    assert first.sku == "SKU2006-001"
    assert first.quantity == 1
    assert first.price == Decimal("89.99")
    assert change.lines[1].product_id is None
    assert sum((line.price for line in change.lines if line.price), Decimal(0)) == Decimal("414.95")


def test_orders_create_sample_customer_falls_back_to_the_order_updated_at() -> None:
    raw = raw_ids("shopify_orders_create.json")
    customer = translate_one("orders/create", fixture_bytes("shopify_orders_create.json")).customer

    assert customer == CustomerChange(
        platform_id=raw["customer"]["id"],
        updated_at=utc(2022, 1, 1),  # the customer's own updated_at is null in this sample
        email="john@example.com",
        first_name="John",
        last_name="Smith",
        phone=None,
        locale="en",
        address=Address(city="Ottawa", region="Ontario", region_code="ON", country_code="CA", postal_code="K2H7A8"),
    )
    assert customer.platform_id == "115310627314723950"


def test_orders_updated_is_a_newer_version_of_the_same_order() -> None:
    raw = raw_ids("shopify_orders_updated.json")
    created = translate_one("orders/create", fixture_bytes("shopify_orders_create.json"))
    updated = translate_one("orders/updated", fixture_bytes("shopify_orders_updated.json"))

    assert updated.platform_id == created.platform_id
    assert updated.updated_at == utc(2022, 1, 3, 14, 15, 30) > created.updated_at
    assert updated.email == "jon@example.com"  # email is blank, so contact_email is used
    assert updated.customer.updated_at == utc(2022, 1, 2, 16)  # the customer's own time, not the order's
    assert updated.customer.phone == "+16135550123"
    assert updated.lines[0].variant_id == raw["line_items"][0]["variant_id"] == "49148385706295801"
    assert updated.lines[0].quantity == 2


@pytest.mark.parametrize("topic", ORDER_TOPICS)
def test_every_order_topic_gives_an_order_change(topic: str) -> None:
    change = translate_one(topic, fixture_bytes("shopify_orders_updated.json"))
    assert isinstance(change, OrderChange)
    assert change.platform_id == "820982911946154500"


@pytest.mark.parametrize("guest", [{"customer": None}, {}, {"customer": {"email": "x@example.com"}}])
def test_guest_order_has_no_customer(guest: dict[str, Any]) -> None:
    order = fixture("shopify_orders_create.json")
    del order["customer"]
    order.update(guest)

    change = translate_one("orders/create", order)

    assert change.customer is None
    assert change.platform_id == "820982911946154500"
    assert len(change.lines) == 5


def test_order_total_and_placed_at_fall_back_to_current_total_and_created_at() -> None:
    order = fixture("shopify_orders_create.json")
    del order["total_price"]
    order["processed_at"] = None
    order["created_at"] = "2021-12-30T08:00:00+01:00"

    change = translate_one("orders/create", order)

    assert change.total_price == Decimal("414.95")
    assert change.placed_at == utc(2021, 12, 30, 7)


def test_prices_sent_as_json_numbers_stay_exact() -> None:
    body = b'{"id": 1, "updated_at": "2026-01-01T00:00:00Z", "total_price": 0.1,'
    body += b' "line_items": [{"id": 2, "title": "Pen", "quantity": 3, "price": 0.3}]}'
    change = translate_one("orders/create", body)
    assert change.total_price == Decimal("0.1")
    assert change.lines[0].price == Decimal("0.3")


def test_order_updated_at_falls_back_to_triggered_at_in_utc() -> None:
    order = fixture("shopify_orders_create.json")
    del order["updated_at"]
    triggered = dt.datetime(2026, 1, 1, 10, tzinfo=dt.timezone(dt.timedelta(hours=-5)))

    change = translate_one("orders/updated", order, triggered_at=triggered)

    assert change.updated_at == utc(2026, 1, 1, 15)
    assert change.updated_at.tzinfo is dt.UTC
    assert change.customer.updated_at == utc(2026, 1, 1, 15)


def test_naive_triggered_at_is_taken_as_utc() -> None:
    order = fixture("shopify_orders_create.json")
    order["updated_at"] = "garbage"
    change = translate_one("orders/updated", order, triggered_at=dt.datetime(2026, 1, 1, 10))
    assert change.updated_at == utc(2026, 1, 1, 10)


@pytest.mark.parametrize(
    ("financial", "fulfillment", "cancelled_at", "expected"),
    [
        ("paid", None, "2026-01-01T00:00:00Z", OrderStatus.CANCELLED),
        ("refunded", "fulfilled", "2026-01-01T00:00:00Z", OrderStatus.CANCELLED),
        ("refunded", "fulfilled", None, OrderStatus.REFUNDED),
        ("partially_refunded", "fulfilled", None, OrderStatus.PARTIALLY_REFUNDED),
        ("paid", "fulfilled", None, OrderStatus.FULFILLED),
        ("pending", "fulfilled", None, OrderStatus.FULFILLED),
        ("paid", "partial", None, OrderStatus.PARTIALLY_FULFILLED),
        ("paid", None, None, OrderStatus.PAID),
        ("partially_paid", None, None, OrderStatus.PAID),
        ("voided", None, None, OrderStatus.CANCELLED),
        ("pending", None, None, OrderStatus.PENDING),
        ("authorized", None, None, OrderStatus.PENDING),
        (None, None, None, OrderStatus.PENDING),
        ("PAID", None, None, OrderStatus.PAID),
    ],
)
def test_order_status_mapping(
    financial: str | None, fulfillment: str | None, cancelled_at: str | None, expected: OrderStatus
) -> None:
    order = {
        "id": 5,
        "updated_at": "2026-01-01T00:00:00Z",
        "financial_status": financial,
        "fulfillment_status": fulfillment,
        "cancelled_at": cancelled_at,
    }
    assert translate_one("orders/updated", order).status is expected


@pytest.mark.parametrize(
    ("financial", "fulfillment", "expected"),
    [("paid", "partial", "paid/partial"), ("pending", None, "pending/"), (None, None, None)],
)
def test_platform_status_shows_both_shopify_statuses(
    financial: str | None, fulfillment: str | None, expected: str | None
) -> None:
    order = {"id": 5, "updated_at": "2026-01-01T00:00:00Z"}
    order |= {"financial_status": financial, "fulfillment_status": fulfillment}
    assert translate_one("orders/paid", order).platform_status == expected


# --- customers -------------------------------------------------------------------------------------

OTTAWA = Address(city="Ottawa", region="ON", region_code="ON", country_code="CA", postal_code="K2P 2L8")


def test_customers_create_sample_becomes_a_customer_change() -> None:
    raw = raw_ids("shopify_customers_create.json")
    change = translate_one("customers/create", fixture_bytes("shopify_customers_create.json"))

    assert change == CustomerChange(
        platform_id=raw["id"],
        updated_at=utc(2022, 1, 1),
        email="bob@biller.com",
        first_name="Bob",
        last_name="Biller",
        phone=None,
        locale=None,
        address=OTTAWA,
    )
    assert change.platform_id == "706405506930370000"


def test_customers_create_2024_10_generation_parses_and_keeps_its_consent() -> None:
    raw = raw_ids("shopify_customers_create_2024-10.json")
    delivery = event("customers/create", fixture_bytes("shopify_customers_create_2024-10.json"))
    customer, consent = ShopifyAdapter().translate(delivery, SHOP)  # type: ignore[misc]

    assert customer == CustomerChange(
        platform_id=raw["id"],
        updated_at=utc(2022, 1, 1),
        email=None,
        first_name="Bob",
        last_name="Biller",
        address=OTTAWA,
        tags=(),  # the older generation still carries tags (empty here)
    )
    # email_marketing_consent {state: not_subscribed, consent_updated_at: null}; sms is null.
    assert consent == ConsentChange(
        customer_platform_id=raw["id"], channel=ConsentChannel.EMAIL, state="not_subscribed", updated_at=utc(2022, 1, 1)
    )


def test_consent_topics_become_consent_changes() -> None:
    triggered = utc(2026, 5, 2)
    email = event(
        "customers_email_marketing_consent/update",
        json.dumps(
            {
                "customer_id": 706405506930370084,
                "email_address": "bob@example.com",
                "email_marketing_consent": {
                    "state": "subscribed",
                    "opt_in_level": "single_opt_in",
                    "consent_updated_at": "2026-05-01T10:00:00-04:00",
                },
            }
        ).encode(),
    )
    sms = event(
        "customers_marketing_consent/update",
        {"id": 706405506930370084, "phone": "+16135550123", "sms_marketing_consent": {"state": "unsubscribed"}},
        triggered,
    )
    assert ShopifyAdapter().translate(email, SHOP) == (
        ConsentChange("706405506930370084", ConsentChannel.EMAIL, "subscribed", utc(2026, 5, 1, 14), "bob@example.com"),
    )
    [sms_change] = ShopifyAdapter().translate(sms, SHOP)  # type: ignore[misc]
    assert (sms_change.channel, sms_change.state, sms_change.phone) == (
        ConsentChannel.SMS,
        "unsubscribed",
        "+16135550123",
    )
    assert sms_change.updated_at == triggered  # no consent_updated_at: the delivery's trigger time


def test_customers_update_reads_locale_and_the_first_address_when_there_is_no_default() -> None:
    customer = fixture("shopify_customers_create.json")
    customer["locale"] = "fr-CA"
    customer["addresses"] = [dict(customer.pop("default_address"), city="Gatineau", province_code="QC")]

    change = translate_one("customers/update", customer)

    assert change.locale == "fr-CA"
    assert change.address.city == "Gatineau"
    assert change.address.region_code == "QC"


def test_customer_with_an_empty_default_address_has_no_address() -> None:
    customer = fixture("shopify_customers_create.json")
    customer["default_address"] = {"city": "", "zip": None}
    assert translate_one("customers/update", customer).address is None


# --- fulfilments -----------------------------------------------------------------------------------


def test_fulfillments_create_fixture_becomes_a_fulfillment_change() -> None:
    raw = raw_ids("shopify_fulfillments_create.json")
    change = translate_one("fulfillments/create", fixture_bytes("shopify_fulfillments_create.json"))

    assert change == FulfillmentChange(
        platform_id=raw["id"],
        order_platform_id=raw["order_id"],
        updated_at=utc(2022, 1, 4, 15, 20, 31),
        status=FulfillmentStatus.SHIPPED,
        tracking_company="Canada Post",
        tracking_number="7023210039414604",
        tracking_url=raw["tracking_url"],
        shipped_at=utc(2022, 1, 4, 15, 20, 30),
        delivered_at=None,
    )
    assert (change.platform_id, change.order_platform_id) == ("5548231622715390977", "820982911946154508")


def test_fulfillment_tracking_falls_back_to_the_plural_lists() -> None:
    fulfillment = fixture("shopify_fulfillments_create.json")
    fulfillment |= {"tracking_number": None, "tracking_url": ""}
    fulfillment |= {"tracking_numbers": ["", "TN-2"], "tracking_urls": ["https://t.example/TN-2"]}

    change = translate_one("fulfillments/update", fulfillment)

    assert (change.tracking_number, change.tracking_url) == ("TN-2", "https://t.example/TN-2")


@pytest.mark.parametrize(
    ("status", "shipment_status", "expected"),
    [
        ("success", None, FulfillmentStatus.SHIPPED),
        ("success", "delivered", FulfillmentStatus.DELIVERED),
        ("success", "in_transit", FulfillmentStatus.IN_TRANSIT),
        ("success", "confirmed", FulfillmentStatus.IN_TRANSIT),
        ("success", "label_printed", FulfillmentStatus.IN_TRANSIT),
        ("success", "label_purchased", FulfillmentStatus.IN_TRANSIT),
        ("success", "ready_for_pickup", FulfillmentStatus.IN_TRANSIT),
        ("success", "out_for_delivery", FulfillmentStatus.OUT_FOR_DELIVERY),
        ("success", "failure", FulfillmentStatus.FAILED),
        ("success", "attempted_delivery", FulfillmentStatus.FAILED),
        ("success", "some_new_status", FulfillmentStatus.SHIPPED),
        ("cancelled", None, FulfillmentStatus.CANCELLED),
        ("cancelled", "in_transit", FulfillmentStatus.CANCELLED),  # the fulfilment's own end wins
        ("failure", None, FulfillmentStatus.FAILED),
        ("error", "in_transit", FulfillmentStatus.FAILED),
        ("pending", None, FulfillmentStatus.PENDING),
        ("open", None, FulfillmentStatus.PENDING),
    ],
)
def test_fulfillment_status_mapping(status: str, shipment_status: str | None, expected: FulfillmentStatus) -> None:
    fulfillment = fixture("shopify_fulfillments_create.json")
    fulfillment |= {"status": status, "shipment_status": shipment_status}
    assert translate_one("fulfillments/update", fulfillment).status is expected


def test_delivered_fulfillment_is_delivered_at_its_updated_at() -> None:
    fulfillment = fixture("shopify_fulfillments_create.json")
    fulfillment |= {"shipment_status": "delivered", "updated_at": "2022-01-07T12:00:00Z"}

    change = translate_one("fulfillments/update", fulfillment)

    assert change.delivered_at == change.updated_at == utc(2022, 1, 7, 12)


def test_pending_fulfillment_has_not_shipped() -> None:
    fulfillment = fixture("shopify_fulfillments_create.json")
    fulfillment["status"] = "pending"
    assert translate_one("fulfillments/create", fulfillment).shipped_at is None


@pytest.mark.parametrize(("status", "reason"), [("archived", "'archived'"), (None, "missing"), ("Q!", "missing")])
def test_fulfillment_with_an_unknown_status_is_skipped(status: str | None, reason: str) -> None:
    fulfillment = fixture("shopify_fulfillments_create.json")
    fulfillment["status"] = status
    result = ShopifyAdapter().translate(event("fulfillments/update", fulfillment), SHOP)
    assert isinstance(result, Skip)
    assert reason in result.reason


# --- fulfilment events -----------------------------------------------------------------------------


def test_fulfillment_events_create_sample_becomes_delivery_progress() -> None:
    raw = raw_ids("shopify_fulfillment_events_create.json")
    change = translate_one("fulfillment_events/create", fixture_bytes("shopify_fulfillment_events_create.json"))

    assert change == DeliveryProgress(
        fulfillment_platform_id=raw["fulfillment_id"],
        order_platform_id=raw["order_id"],
        happened_at=utc(2022, 1, 1),
        status=FulfillmentStatus.IN_TRANSIT,
    )
    assert (change.fulfillment_platform_id, change.order_platform_id) == ("123456", "820982911946154500")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("delivered", FulfillmentStatus.DELIVERED),
        ("out_for_delivery", FulfillmentStatus.OUT_FOR_DELIVERY),
        ("in_transit", FulfillmentStatus.IN_TRANSIT),
        ("confirmed", FulfillmentStatus.IN_TRANSIT),
        ("label_printed", FulfillmentStatus.IN_TRANSIT),
        ("label_purchased", FulfillmentStatus.IN_TRANSIT),
        ("carrier_picked_up", FulfillmentStatus.IN_TRANSIT),
        ("ready_for_pickup", FulfillmentStatus.IN_TRANSIT),
        ("delayed", FulfillmentStatus.IN_TRANSIT),
        ("attempted_delivery", FulfillmentStatus.FAILED),
        ("failure", FulfillmentStatus.FAILED),
    ],
)
def test_fulfillment_event_status_mapping(status: str, expected: FulfillmentStatus) -> None:
    body = fixture("shopify_fulfillment_events_create.json") | {"status": status}
    assert translate_one("fulfillment_events/create", body).status is expected


def test_fulfillment_event_with_a_new_status_is_skipped_and_named() -> None:
    body = fixture("shopify_fulfillment_events_create.json") | {"status": "teleported"}
    result = ShopifyAdapter().translate(event("fulfillment_events/create", body), SHOP)
    assert result == Skip("unknown fulfillment event status 'teleported'")


def test_fulfillment_event_time_falls_back_to_created_at_then_triggered_at() -> None:
    body = fixture("shopify_fulfillment_events_create.json")
    body |= {"happened_at": None, "created_at": "2022-01-02T03:04:05Z"}
    assert translate_one("fulfillment_events/create", body).happened_at == utc(2022, 1, 2, 3, 4, 5)

    body["created_at"] = None
    later = translate_one("fulfillment_events/create", body, triggered_at=utc(2022, 1, 3))
    assert later.happened_at == utc(2022, 1, 3)


# --- timestamps ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01T10:00:00-05:00", utc(2026, 1, 1, 15)),
        ("2026-01-01T10:00:00+05:30", utc(2026, 1, 1, 4, 30)),
        ("2026-01-01T10:00:00Z", utc(2026, 1, 1, 10)),
        ("2026-01-01T10:00:00z", utc(2026, 1, 1, 10)),
        ("2026-01-01T10:00:00+0000", utc(2026, 1, 1, 10)),
        ("2023-03-29T18:00:27.877041743Z", utc(2023, 3, 29, 18, 0, 27, 877041)),
        ("2023-03-29T18:00:27.999999999Z", utc(2023, 3, 29, 18, 0, 27, 999999)),  # truncated, not rounded up
        ("2023-03-29T18:00:27.5-01:00", utc(2023, 3, 29, 19, 0, 27, 500000)),
        ("2021-12-31T19:00:00-05:00", utc(2022, 1, 1)),
        (" 2026-01-01 10:00:00Z\n", utc(2026, 1, 1, 10)),
    ],
)
def test_parse_timestamp_gives_aware_utc(text: str, expected: dt.datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is dt.UTC


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        "2026-01-01",
        "2026-01-01T10:00:00",  # no offset: ambiguous
        "2026-13-01T10:00:00Z",
        "2026-02-30T10:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T10:00:00+24:00",
        "2026-01-01T10:00:00+05:60",
        "0001-01-01T00:00:00+01:00",
        "2026-01-01T10:00:00Z trailing",
        "٢٠٢٦-01-01T10:00:00Z",  # non-ASCII digits
        1767261600,
        12.5,
        ["2026-01-01T10:00:00Z"],
    ],
)
def test_parse_timestamp_refuses_missing_and_garbage(value: object) -> None:
    assert parse_timestamp(value) is None


# --- shop domains ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "domain",
    [
        "jsmith.myshopify.com",
        "a.myshopify.com",
        "9shop.myshopify.com",
        "my-shop-2.myshopify.com",
        "MyShop.MyShopify.COM",
        "a" * 60 + ".myshopify.com",
    ],
)
def test_valid_shop_domains(domain: str) -> None:
    assert valid_shop_domain(domain)


@pytest.mark.parametrize(
    "domain",
    [
        "",
        ".myshopify.com",
        "myshopify.com",
        "evil.com/.myshopify.com",
        "a.myshopify.com.evil.com",
        "a..myshopify.com",
        "a.b.myshopify.com",
        "-a.myshopify.com",
        "_a.myshopify.com",
        "a_b.myshopify.com",
        "a.myshopify.com.",
        "a.myshopify.com/",
        "a.myshopify.com/admin",
        "a.myshopify.com:443",
        "user@a.myshopify.com",
        "user:pw@a.myshopify.com",
        "https://a.myshopify.com",
        " a.myshopify.com",
        "a.myshopify.com ",
        "a.myshopify.com\n",
        "a b.myshopify.com",
        "a.shopify.com",
        "a.myshopifyXcom",
        "a" * 61 + ".myshopify.com",
        "\u212aelvin.myshopify.com",  # KELVIN SIGN case-folds to "k" unless the pattern is ASCII-only
        "bücher.myshopify.com",
    ],
)
def test_invalid_shop_domains(domain: str) -> None:
    assert not valid_shop_domain(domain)
    assert SHOP_DOMAIN_RE.match(domain) is None


# --- refused payloads ------------------------------------------------------------------------------


def assert_no_body_in(error: BadPayload) -> None:
    # Raised outside the json error, so neither the message nor a chained exception carries the body.
    assert PII not in str(error)
    assert PII not in repr(error.args)
    assert error.__cause__ is None
    assert error.__context__ is None


@pytest.mark.parametrize("topic", ["orders/create", "customers/update", "fulfillments/create"])
@pytest.mark.parametrize(
    "body",
    [
        b'{"email": "' + PII.encode() + b'", ',
        b"",
        b"\xff\xfe\x00garbage " + PII.encode(),
        b'{"id": 1, "updated_at": NaN, "email": "' + PII.encode() + b'"}',
        b"[" * 100_000 + PII.encode(),
    ],
)
def test_invalid_json_is_a_bad_payload_without_the_body(topic: str, body: bytes) -> None:
    error = bad_payload(topic, body)
    assert str(error) == "body is not valid JSON"
    assert_no_body_in(error)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b'["' + PII.encode() + b'"]', "array"),
        (b'"' + PII.encode() + b'"', "string"),
        (b"42", "number"),
        (b"4.2", "number"),
        (b"true", "boolean"),
        (b"null", "null"),
    ],
)
def test_json_that_is_not_an_object_is_a_bad_payload(body: bytes, kind: str) -> None:
    error = bad_payload("orders/create", body)
    assert str(error) == f"body is a JSON {kind}, expected an object"
    assert_no_body_in(error)


@pytest.mark.parametrize(
    ("topic", "fixture_name"),
    [
        ("orders/updated", "shopify_orders_create.json"),
        ("customers/update", "shopify_customers_create.json"),
        ("fulfillments/update", "shopify_fulfillments_create.json"),
    ],
)
@pytest.mark.parametrize("updated_at", ["absent", None, "", "not a time"])
def test_missing_updated_at_without_triggered_at_is_a_bad_payload(
    topic: str, fixture_name: str, updated_at: str | None
) -> None:
    body = fixture(fixture_name) | {"email": PII}
    if updated_at == "absent":
        del body["updated_at"]
    else:
        body["updated_at"] = updated_at

    error = bad_payload(topic, body)

    assert "has no usable updated_at" in str(error)
    assert PII not in str(error)


def test_fulfillment_event_without_any_time_is_a_bad_payload() -> None:
    body = fixture("shopify_fulfillment_events_create.json") | {"happened_at": None, "created_at": None}
    assert "happened_at" in str(bad_payload("fulfillment_events/create", body))


@pytest.mark.parametrize(
    ("topic", "fixture_name", "key", "value"),
    [
        ("orders/create", "shopify_orders_create.json", "id", None),
        ("orders/create", "shopify_orders_create.json", "id", 8.209829119461545e17),  # a float lost digits
        ("orders/create", "shopify_orders_create.json", "id", "gid://shopify/Order/1"),
        ("orders/create", "shopify_orders_create.json", "id", True),
        ("orders/create", "shopify_orders_create.json", "id", 0),
        ("customers/create", "shopify_customers_create.json", "id", -3),
        ("fulfillments/create", "shopify_fulfillments_create.json", "order_id", None),
        ("fulfillment_events/create", "shopify_fulfillment_events_create.json", "fulfillment_id", None),
        ("fulfillment_events/create", "shopify_fulfillment_events_create.json", "order_id", "12a"),
    ],
)
def test_missing_or_unusable_ids_are_a_bad_payload(topic: str, fixture_name: str, key: str, value: object) -> None:
    body = fixture(fixture_name) | {key: value}
    assert f"has no usable {key}" in str(bad_payload(topic, body))


def test_string_digit_ids_are_accepted() -> None:
    body = fixture("shopify_fulfillment_events_create.json") | {"order_id": "0820982911946154508"}
    assert translate_one("fulfillment_events/create", body).order_platform_id == "820982911946154508"


@pytest.mark.parametrize("quantity", [None, "2", 1.5, True])
def test_line_without_an_integer_quantity_is_a_bad_payload(quantity: object) -> None:
    order = fixture("shopify_orders_create.json")
    order["line_items"][2]["quantity"] = quantity
    assert str(bad_payload("orders/create", order)) == "order line item has no integer quantity"


# --- when the order was paid -------------------------------------------------------------------------


def order_body(financial_status: str, **fields: Any) -> dict[str, Any]:
    """The orders/create sample as a live order: placed at 10:00, last changed at 12:30."""
    body = fixture("shopify_orders_create.json")
    body.update(
        financial_status=financial_status,
        cancelled_at=None,
        test=False,
        created_at="2026-05-01T10:00:00+02:00",
        processed_at="2026-05-01T10:00:00+02:00",
        updated_at="2026-05-01T12:30:00+02:00",
        **fields,
    )
    return body


@pytest.mark.parametrize(
    ("topic", "financial_status", "paid_at"),
    [
        # Arrived paid as it was placed: paid when placed (processed_at).
        ("orders/create", "paid", utc(2026, 5, 1, 8)),
        ("orders/create", "partially_paid", utc(2026, 5, 1, 8)),
        # Placed unpaid (a bank transfer, cash on delivery): not paid.
        ("orders/create", "pending", None),
        ("orders/create", "authorized", None),
        # orders/paid is sent as it is paid: its updated_at.
        ("orders/paid", "paid", utc(2026, 5, 1, 10, 30)),
        # These say it is paid, not since when: orders/paid brings the time.
        ("orders/updated", "paid", None),
        ("orders/fulfilled", "paid", None),
        ("orders/updated", "voided", None),
    ],
)
def test_paid_at_from_the_webhook_topic(topic: str, financial_status: str, paid_at: dt.datetime | None) -> None:
    change = translate_one(topic, order_body(financial_status))
    assert isinstance(change, OrderChange)
    assert change.paid_at == paid_at


def test_orders_paid_without_updated_at_is_paid_when_triggered() -> None:
    body = order_body("paid")
    del body["updated_at"]
    change = translate_one("orders/paid", body, triggered_at=utc(2026, 5, 3, 9))
    assert change.paid_at == utc(2026, 5, 3, 9)


def test_paid_at_is_the_first_successful_payment_transaction_when_the_payload_has_them() -> None:
    """What a read-back over GraphQL carries (restated as REST transactions): the exact time, whatever
    the topic; authorisations, failures and refunds do not count."""
    transactions = [
        {"kind": "authorization", "status": "success", "processed_at": "2026-05-01T08:00:00Z"},
        {"kind": "sale", "status": "failure", "processed_at": "2026-05-02T08:00:00Z"},
        {"kind": "capture", "status": "success", "processed_at": "2026-05-04T09:15:00Z"},
        {"kind": "sale", "status": "success", "processed_at": "2026-05-05T10:00:00Z"},
        {"kind": "refund", "status": "success", "processed_at": "2026-05-03T10:00:00Z"},
    ]
    change = translate_one("orders/updated", order_body("partially_refunded", transactions=transactions))
    assert change.paid_at == utc(2026, 5, 4, 9, 15)
    unpaid = translate_one("orders/updated", order_body("pending", transactions=transactions[:2]))
    assert unpaid.paid_at is None
