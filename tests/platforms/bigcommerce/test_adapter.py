"""The BigCommerce client and adapter, over real HTTP against tests/fakes/bigcommerce_api.py."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
import requests

from integration.events.changes import (
    Address,
    Change,
    CustomerChange,
    CustomerDeleted,
    DiscountCodeUse,
    FulfillmentChange,
    FulfillmentStatus,
    OrderChange,
    OrderLineData,
    OrderStatus,
    ShopUninstalled,
    Skip,
)
from integration.platforms.bigcommerce import client as bigcommerce_client
from integration.platforms.bigcommerce.adapter import BigCommerceAdapter
from integration.platforms.bigcommerce.client import BigCommerceAPIError, BigCommerceClient
from integration.platforms.bigcommerce.topics import SCOPES_HANDLED, store_hash_from_producer
from integration.platforms.interfaces import (
    BadPayload,
    NotFoundAtPlatform,
    ShopAccess,
    StoredEvent,
    TransientPlatformError,
)
from tests.fakes.bigcommerce_api import (
    FakeBigCommerce,
    load_fixture,
    sample_coupons,
    sample_customer,
    sample_order,
    sample_products,
    sample_shipment,
    sample_shipping_addresses,
)
from tests.helpers import BC_TOKEN, STORE_HASH, FakeClock

UTC = dt.UTC
TRIGGERED_AT = dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ORDER_MODIFIED = dt.datetime(2019, 3, 11, 15, 17, 25, tzinfo=UTC)
ORDER_CREATED = dt.datetime(2019, 3, 5, 21, 40, 11, tzinfo=UTC)


def webhook(scope: str, data: dict[str, Any] | None = None, *, fixture: str | None = None) -> bytes:
    """A webhook body: one of the saved samples (with our store as producer), or a minimal one."""
    if fixture is not None:
        payload = load_fixture(fixture)
        payload["scope"] = scope
    else:
        payload = {"scope": scope, "store_id": "1025646", "hash": "0" * 40, "created_at": 1561479335}
    if data is not None:
        payload["data"] = data
    payload["producer"] = f"stores/{STORE_HASH}"
    return json.dumps(payload).encode()


def event(scope: str, body: bytes, triggered_at: dt.datetime | None = TRIGGERED_AT) -> StoredEvent:
    return StoredEvent(
        id=1,
        platform="bigcommerce",
        shop=STORE_HASH,
        topic=scope,
        body=body,
        triggered_at=triggered_at,
        api_version=None,
    )


def order_event(scope: str = "store/order/created", order_id: int = 218) -> StoredEvent:
    return event(scope, webhook(scope, {"type": "order", "id": order_id}))


def one_change(result: Sequence[Change] | Skip) -> Change:
    assert not isinstance(result, Skip), result
    [change] = result
    return change


def add_sample_order(fake: FakeBigCommerce, **overrides: Any) -> None:
    fake.add_order(
        STORE_HASH, sample_order(**overrides), sample_products(), sample_shipping_addresses(), sample_coupons()
    )


# ----------------------------------------------------------------------------------------------- orders


def test_order_with_products_and_shipping_address_becomes_an_order_change(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess
) -> None:
    add_sample_order(fake_bc)
    body = webhook("store/order/created", fixture="bigcommerce_webhook_order_created.json")
    # The saved sample names order 250; point it at the sample order.
    result = bc_adapter.translate(event("store/order/created", body.replace(b'"id": 250', b'"id": 218')), bc_shop)

    billing = Address(city="Austin", region="Texas", country_code="US", postal_code="78108")
    assert result == [
        OrderChange(
            platform_id="218",
            updated_at=ORDER_MODIFIED,
            status=OrderStatus.PENDING,
            platform_status="Awaiting Payment",
            name="218",
            email="janedoe@example.com",
            currency="USD",
            total_price=Decimal("69.8400"),
            placed_at=ORDER_CREATED,
            customer=CustomerChange(
                platform_id="11",
                updated_at=ORDER_CREATED,
                email="janedoe@example.com",
                first_name="Jane",
                last_name="Doe",
                phone="1234567890",
                locale="en",
                address=billing,
            ),
            shipping_address=Address(city="San Antonio", region="Texas", country_code="US", postal_code="78251"),
            lines=(
                OrderLineData(
                    title="Fog Linen Chambray Towel - Beige Stripe",
                    quantity=1,
                    price=Decimal("65.2300"),
                    platform_line_id="65",
                    product_id="77",
                    sku="S-ORAN",
                ),
                OrderLineData(
                    title="Able Brewing System",
                    quantity=1,
                    price=Decimal("0.0000"),
                    platform_line_id="66",
                    product_id="86",
                    sku="ABS",
                ),
            ),
            # The sample order's coupon_discount is 5: its coupons were fetched.
            discount_codes=(DiscountCodeUse(code="S2549JM0Y", amount=Decimal("5"), kind="per_total_discount"),),
        )
    ]
    change = result[0]
    assert isinstance(change, OrderChange)
    assert change.updated_at.utcoffset() == dt.timedelta(0)


def test_order_calls_send_the_token_and_page_products_at_250(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess
) -> None:
    add_sample_order(fake_bc)
    bc_adapter.translate(order_event(), bc_shop)

    assert [(r.method, r.path) for r in fake_bc.requests] == [
        ("GET", f"/stores/{STORE_HASH}/v2/orders/218"),
        ("GET", f"/stores/{STORE_HASH}/v2/orders/218/products"),
        ("GET", f"/stores/{STORE_HASH}/v2/orders/218/shipping_addresses"),
        ("GET", f"/stores/{STORE_HASH}/v2/orders/218/coupons"),
    ]


def test_an_order_without_a_coupon_discount_costs_no_coupons_call(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess
) -> None:
    add_sample_order(fake_bc, coupon_discount="0.0000", discount_amount="0.0000")
    [change] = bc_adapter.translate(order_event(), bc_shop)  # type: ignore[misc]

    assert isinstance(change, OrderChange)
    assert change.discount_codes == ()
    assert not fake_bc.requests_to(r"/coupons$")


def test_a_coupon_code_with_a_blank_or_odd_entry_is_skipped(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess
) -> None:
    coupons = [{"code": "  ", "type": 1}, {"type": 2}, {"code": "thanks-ab12cd34", "discount": "7.5", "type": 1}]
    fake_bc.add_order(STORE_HASH, sample_order(), sample_products(), sample_shipping_addresses(), coupons)
    [change] = bc_adapter.translate(order_event(), bc_shop)  # type: ignore[misc]

    assert isinstance(change, OrderChange)
    assert change.discount_codes == (
        DiscountCodeUse(code="thanks-ab12cd34", amount=Decimal("7.5"), kind="percentage_discount"),
    )
    assert all(r.headers["X-Auth-Token"] == BC_TOKEN for r in fake_bc.requests)
    assert all(r.headers["Accept"] == "application/json" for r in fake_bc.requests)
    assert fake_bc.requests[1].query == {"page": "1", "limit": "250"}


@pytest.mark.parametrize("count, pages", [(251, 2), (250, 2), (3, 1)])
def test_products_are_paged_until_a_short_page(
    fake_bc: FakeBigCommerce, bc_client: BigCommerceClient, count: int, pages: int
) -> None:
    template = sample_products()[0]
    products = [{**template, "id": 1000 + i} for i in range(count)]
    fake_bc.add_order(STORE_HASH, sample_order(), products, [])

    order = bc_client.get_order("218")

    assert [p["id"] for p in order["products"]] == [1000 + i for i in range(count)]
    assert len(fake_bc.requests_to(r"/products$")) == pages
    assert order["shipping_addresses"] == []  # v2 sends 204 for an empty collection


@pytest.mark.parametrize(
    "status_id, expected",
    [
        (1, OrderStatus.PENDING),
        (7, OrderStatus.PENDING),
        (12, OrderStatus.PENDING),
        (8, OrderStatus.PAID),
        (9, OrderStatus.PAID),
        (11, OrderStatus.PAID),
        (13, OrderStatus.PAID),
        (2, OrderStatus.FULFILLED),
        (10, OrderStatus.FULFILLED),
        (3, OrderStatus.PARTIALLY_FULFILLED),
        (4, OrderStatus.REFUNDED),
        (14, OrderStatus.PARTIALLY_REFUNDED),
        (5, OrderStatus.CANCELLED),
        (6, OrderStatus.CANCELLED),
    ],
)
def test_status_id_maps_to_order_status(
    fake_bc: FakeBigCommerce,
    bc_adapter: BigCommerceAdapter,
    bc_shop: ShopAccess,
    status_id: int,
    expected: OrderStatus,
) -> None:
    add_sample_order(fake_bc, status_id=status_id, status=f"status {status_id}")

    change = one_change(bc_adapter.translate(order_event("store/order/statusUpdated"), bc_shop))

    assert isinstance(change, OrderChange)
    assert (change.status, change.platform_status) == (expected, f"status {status_id}")


def test_incomplete_order_is_skipped_after_one_call(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess
) -> None:
    add_sample_order(fake_bc, status_id=0, status="Incomplete")

    result = bc_adapter.translate(order_event(), bc_shop)

    assert result == Skip("incomplete order (status 0)")
    assert len(fake_bc.requests) == 1  # no products or addresses fetched for an abandoned checkout


def test_unknown_status_id_is_a_bad_payload(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess
) -> None:
    add_sample_order(fake_bc, status_id=99)

    with pytest.raises(BadPayload, match="status_id 99"):
        bc_adapter.translate(order_event(), bc_shop)


def test_guest_order_has_no_customer(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess
) -> None:
    add_sample_order(fake_bc, customer_id=0)

    change = one_change(bc_adapter.translate(order_event(), bc_shop))

    assert isinstance(change, OrderChange)
    assert change.customer is None
    assert change.email == "janedoe@example.com"


def test_archived_scope_gives_archived(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess
) -> None:
    add_sample_order(fake_bc, status_id=10, status="Completed")

    change = one_change(bc_adapter.translate(order_event("store/order/archived"), bc_shop))

    assert isinstance(change, OrderChange)
    assert change.status is OrderStatus.ARCHIVED
    assert change.platform_status == "Completed"


def test_deleted_order_gives_archived_whatever_the_scope(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess
) -> None:
    add_sample_order(fake_bc, status_id=11, is_deleted=True)

    change = one_change(bc_adapter.translate(order_event("store/order/updated"), bc_shop))

    assert isinstance(change, OrderChange)
    assert change.status is OrderStatus.ARCHIVED


def test_status_updated_sample_is_decided_from_the_fetched_order(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess
) -> None:
    # The sample says new_status_id 11; the order says 5 now (a later change): the order wins.
    add_sample_order(fake_bc, id=250, status_id=5, status="Cancelled")
    body = webhook("store/order/statusUpdated", fixture="bigcommerce_webhook_order_status_updated.json")

    change = one_change(bc_adapter.translate(event("store/order/statusUpdated", body), bc_shop))

    assert isinstance(change, OrderChange)
    assert (change.platform_id, change.status) == ("250", OrderStatus.CANCELLED)


# -------------------------------------------------------------------------------------- HTTP failures


def test_429_is_transient_with_the_reset_time(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess
) -> None:
    add_sample_order(fake_bc)
    fake_bc.queue_response("GET", r"/v2/orders/218$", 429, {"X-Rate-Limit-Time-Reset-Ms": "1500"})

    with pytest.raises(TransientPlatformError) as caught:
        bc_adapter.translate(order_event(), bc_shop)

    assert caught.value.retry_after == 1.5
    # The script was one-shot: the next try goes through.
    change = one_change(bc_adapter.translate(order_event(), bc_shop))
    assert isinstance(change, OrderChange)


def test_429_without_reset_uses_x_retry_after(fake_bc: FakeBigCommerce, bc_client: BigCommerceClient) -> None:
    fake_bc.extra_headers = {"X-Rate-Limit-Time-Reset-Ms": "not-a-number"}
    fake_bc.queue_response("GET", r"/shipments/", 429, {"X-Retry-After": "7"})

    with pytest.raises(TransientPlatformError) as caught:
        bc_client.get_shipment("218", "12")

    assert caught.value.retry_after == 7.0


def test_500_is_transient(fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess) -> None:
    add_sample_order(fake_bc)
    fake_bc.queue_response("GET", r"/products$", 500, body={"title": "Internal Server Error"})

    with pytest.raises(TransientPlatformError, match="500") as caught:
        bc_adapter.translate(order_event(), bc_shop)

    assert caught.value.retry_after is None


def test_connection_refused_is_transient(bc_http: requests.Session) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    bc_client = BigCommerceClient(f"http://127.0.0.1:{port}", STORE_HASH, BC_TOKEN, session=bc_http)

    with pytest.raises(TransientPlatformError, match="ConnectionError"):
        bc_client.get_order("218")


def test_read_timeout_is_transient(
    fake_bc: FakeBigCommerce, bc_client: BigCommerceClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bigcommerce_client, "TIMEOUT", (5.0, 0.05))
    fake_bc.queue_response("GET", r"/v2/orders/218$", 200, body={}, delay=0.3)

    with pytest.raises(TransientPlatformError, match="ReadTimeout"):
        bc_client.get_order_summary("218")


@pytest.mark.parametrize(
    "path, body",
    [(r"/v2/orders/218$", [{"id": 218}]), (r"/products$", {"id": 65}), (r"/v3/customers$", {"data": {}})],
)
def test_unexpected_body_shape_is_a_permanent_api_error(
    fake_bc: FakeBigCommerce, bc_client: BigCommerceClient, path: str, body: Any
) -> None:
    add_sample_order(fake_bc)
    fake_bc.queue_response("GET", path, 200, body=body)

    with pytest.raises(BigCommerceAPIError, match="unexpected shape"):
        bc_client.get_order("218") if "customers" not in path else bc_client.get_customer("32")


def test_non_json_success_is_transient(fake_bc: FakeBigCommerce, bc_client: BigCommerceClient) -> None:
    fake_bc.queue_response("GET", r"/v2/orders/218$", 200, body="<html>maintenance</html>")

    with pytest.raises(TransientPlatformError, match="not JSON"):
        bc_client.get_order_summary("218")


def test_404_is_not_found(fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess) -> None:
    with pytest.raises(NotFoundAtPlatform, match="404"):
        bc_adapter.translate(order_event(order_id=999), bc_shop)


@pytest.mark.parametrize("status", [403, 422])
def test_other_4xx_is_a_permanent_api_error(
    fake_bc: FakeBigCommerce, bc_client: BigCommerceClient, status: int
) -> None:
    fake_bc.queue_response("GET", r"/v2/orders/218$", status, body={"title": "nope"})

    with pytest.raises(BigCommerceAPIError, match=str(status)) as caught:
        bc_client.get_order_summary("218")

    assert not isinstance(caught.value, TransientPlatformError | NotFoundAtPlatform)
    assert caught.value.status == status


def test_wrong_token_is_401(fake_bc: FakeBigCommerce, bc_http: requests.Session) -> None:
    add_sample_order(fake_bc)
    bc_client = BigCommerceClient(fake_bc.url, STORE_HASH, "another-token", session=bc_http)

    with pytest.raises(BigCommerceAPIError, match="401"):
        bc_client.get_order("218")


def test_errors_and_logs_never_carry_the_token_or_customer_data(
    fake_bc: FakeBigCommerce, bc_client: BigCommerceClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    customer_body = {"errors": {"email": "jane.smith@example.com is taken"}, "token": BC_TOKEN}
    failures: list[BaseException] = []
    for status in (400, 401, 404, 422, 429, 500, 503):
        fake_bc.queue_response("GET", r"/v3/customers$", status, body=customer_body)
        with pytest.raises((BigCommerceAPIError, NotFoundAtPlatform, TransientPlatformError)) as caught:
            bc_client.get_customer("32")
        failures.append(caught.value)

    texts = [f"{exc!s} {exc!r} {exc.args!r}" for exc in failures] + [caplog.text]
    assert len(failures) == 7
    for text in texts:
        assert BC_TOKEN not in text
        assert "jane.smith" not in text


# ---------------------------------------------------------------------------------------- rate limits


def test_low_requests_left_makes_the_next_call_wait(
    fake_bc: FakeBigCommerce, bc_client: BigCommerceClient, clock: FakeClock
) -> None:
    fake_bc.add_shipment(STORE_HASH, 218, sample_shipment())
    fake_bc.rate_limit_left = 2  # at the default min_requests_left
    fake_bc.rate_limit_reset_ms = 4200

    bc_client.get_shipment("218", "12")
    assert clock.sleeps == []  # the wait is before the next call, not after this one

    clock.now += 1.0  # a second passes before the next call: only the rest of the window is waited
    bc_client.get_shipment("218", "12")
    assert clock.sleeps == [pytest.approx(3.2)]


def test_plenty_of_requests_left_never_waits(
    fake_bc: FakeBigCommerce, bc_client: BigCommerceClient, clock: FakeClock
) -> None:
    add_sample_order(fake_bc)
    fake_bc.rate_limit_left = 3

    bc_client.get_order("218")

    assert clock.sleeps == []


def test_wait_is_capped_at_max_wait(fake_bc: FakeBigCommerce, bc_http: requests.Session, clock: FakeClock) -> None:
    add_sample_order(fake_bc)
    fake_bc.rate_limit_left = 0
    fake_bc.rate_limit_reset_ms = 120_000
    bc_client = BigCommerceClient(
        fake_bc.url,
        STORE_HASH,
        BC_TOKEN,
        session=bc_http,
        max_wait=10.0,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
    )

    bc_client.get_order("218")

    # Before the products, the addresses and the coupons call (the sample order has a coupon discount).
    assert clock.sleeps == [10.0, 10.0, 10.0]


def test_adapter_keeps_the_quota_pause_across_events_of_a_store(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess, clock: FakeClock
) -> None:
    add_sample_order(fake_bc, status_id=0)
    fake_bc.rate_limit_left = 1
    fake_bc.rate_limit_reset_ms = 2000

    bc_adapter.translate(order_event(), bc_shop)
    assert clock.sleeps == []
    bc_adapter.translate(order_event(), bc_shop)
    assert clock.sleeps == [2.0]


# -------------------------------------------------------------------------------------------- customers


@pytest.mark.parametrize("scope", ["store/customer/created", "store/customer/updated"])
def test_customer_event_fetches_the_customer_with_addresses(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess, scope: str
) -> None:
    fake_bc.add_customer(STORE_HASH, sample_customer(32, date_modified="2024-04-30T08:15:00Z"))
    body = webhook(scope, fixture="bigcommerce_webhook_customer_updated.json")

    result = bc_adapter.translate(event(scope, body), bc_shop)

    assert result == [
        CustomerChange(
            platform_id="32",
            updated_at=dt.datetime(2024, 4, 30, 8, 15, tzinfo=UTC),
            email="jane.smith@example.com",
            first_name="Jane",
            last_name="Smith",
            phone="555-123-4567",
            address=Address(city="string", region="string", country_code="st", postal_code="string"),
        )
    ]
    [call] = fake_bc.requests
    assert call.path == f"/stores/{STORE_HASH}/v3/customers"
    assert call.query == {"id:in": "32", "include": "addresses"}


def test_customer_without_date_modified_uses_the_event_time(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess
) -> None:
    fake_bc.add_customer(STORE_HASH, sample_customer(32))  # the official example has no dates

    change = one_change(
        bc_adapter.translate(
            event("store/customer/updated", webhook("store/customer/updated", {"type": "customer", "id": 32})),
            bc_shop,
        )
    )

    assert isinstance(change, CustomerChange)
    assert change.updated_at == TRIGGERED_AT


def test_customer_without_any_time_is_a_bad_payload(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess
) -> None:
    fake_bc.add_customer(STORE_HASH, sample_customer(32))
    body = webhook("store/customer/created", {"type": "customer", "id": 32})

    with pytest.raises(BadPayload, match="date_modified"):
        bc_adapter.translate(event("store/customer/created", body, triggered_at=None), bc_shop)


def test_customer_missing_at_bigcommerce_is_not_found(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess
) -> None:
    fake_bc.add_customer(STORE_HASH, sample_customer(33))
    body = webhook("store/customer/updated", {"type": "customer", "id": 32})

    with pytest.raises(NotFoundAtPlatform, match="32"):
        bc_adapter.translate(event("store/customer/updated", body), bc_shop)


def test_customer_is_matched_by_id(fake_bc: FakeBigCommerce, bc_client: BigCommerceClient) -> None:
    # As if the API had ignored the id:in filter and listed the store's customers.
    stranger = sample_customer(33, date_modified="2024-04-30T08:15:00Z")
    fake_bc.queue_response("GET", r"/v3/customers$", 200, body={"data": [stranger], "meta": {}})

    with pytest.raises(NotFoundAtPlatform, match="customer 32"):
        bc_client.get_customer("32")


def test_customer_deleted_needs_no_api_call_and_no_token(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter
) -> None:
    uninstalled = ShopAccess(shop_id=7, identifier=STORE_HASH, access_token=None)
    body = webhook("store/customer/deleted", {"type": "customer", "id": 32})

    result = bc_adapter.translate(event("store/customer/deleted", body), uninstalled)

    assert result == [CustomerDeleted(platform_id="32", updated_at=TRIGGERED_AT)]
    assert fake_bc.requests == []


def test_customer_deleted_without_trigger_time_uses_now(bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess) -> None:
    before = dt.datetime.now(UTC)
    body = webhook("store/customer/deleted", {"type": "customer", "id": "32"})

    change = one_change(bc_adapter.translate(event("store/customer/deleted", body, triggered_at=None), bc_shop))

    assert isinstance(change, CustomerDeleted)
    assert change.platform_id == "32"
    assert before <= change.updated_at <= dt.datetime.now(UTC)


# -------------------------------------------------------------------------------------------- shipments


@pytest.mark.parametrize("order_key", ["orderId", "order_id"])
def test_shipment_created_becomes_a_shipped_fulfillment(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess, order_key: str
) -> None:
    fake_bc.add_shipment(STORE_HASH, 218, sample_shipment())
    body = webhook("store/shipment/created", {"type": "shipment", "id": 12, order_key: 218})

    result = bc_adapter.translate(event("store/shipment/created", body), bc_shop)

    shipped = dt.datetime(2019, 3, 13, 10, 2, 44, tzinfo=UTC)
    assert result == [
        FulfillmentChange(
            platform_id="12",
            order_platform_id="218",
            updated_at=shipped,
            status=FulfillmentStatus.SHIPPED,
            tracking_company="ups",
            tracking_number="1Z999AA10123456784",
            tracking_url="https://www.ups.com/track?tracknum=1Z999AA10123456784",
            shipped_at=shipped,
        )
    ]
    assert [r.path for r in fake_bc.requests] == [f"/stores/{STORE_HASH}/v2/orders/218/shipments/12"]


def test_shipment_without_date_uses_the_event_time(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess
) -> None:
    fake_bc.add_shipment(STORE_HASH, 218, sample_shipment(date_created="", tracking_carrier=""))
    body = webhook("store/shipment/created", {"type": "shipment", "id": 12, "orderId": 218})

    change = one_change(bc_adapter.translate(event("store/shipment/created", body), bc_shop))

    assert isinstance(change, FulfillmentChange)
    assert (change.updated_at, change.shipped_at) == (TRIGGERED_AT, None)
    assert change.tracking_company == "ups"  # from shipping_provider when tracking_carrier is blank


def test_shipment_without_order_id_is_a_bad_payload(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess
) -> None:
    body = webhook("store/shipment/created", {"type": "shipment", "id": 12})

    with pytest.raises(BadPayload, match="orderId"):
        bc_adapter.translate(event("store/shipment/created", body), bc_shop)
    assert fake_bc.requests == []


# ------------------------------------------------------------------------------------- bad input, misc


@pytest.mark.parametrize(
    "body, problem",
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b'["a list"]', "not a JSON object"),
        (b'{"scope": "store/order/created", "email": "jane@example.com"}', "no data object"),
        (b'{"data": {"type": "order", "email": "jane@example.com"}}', "no numeric data.id"),
        (b'{"data": {"type": "order", "id": "../../v3/hooks"}}', "no numeric data.id"),
        (b'{"data": {"type": "order", "id": true}}', "no numeric data.id"),
    ],
)
def test_unusable_body_is_a_bad_payload_that_does_not_echo_it(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess, body: bytes, problem: str
) -> None:
    with pytest.raises(BadPayload, match=problem) as caught:
        bc_adapter.translate(event("store/order/created", body), bc_shop)

    assert "jane@example.com" not in str(caught.value)
    assert "hooks" not in str(caught.value)
    assert fake_bc.requests == []


def test_missing_access_token_is_a_bad_payload(fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter) -> None:
    add_sample_order(fake_bc)
    no_token = ShopAccess(shop_id=7, identifier=STORE_HASH, access_token=None)

    with pytest.raises(BadPayload, match=f"no access token for store {STORE_HASH}"):
        bc_adapter.translate(order_event(), no_token)
    assert fake_bc.requests == []


def test_unhandled_scope_is_skipped(bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess) -> None:
    assert not bc_adapter.handles("store/product/updated")
    result = bc_adapter.translate(event("store/product/updated", b"ignored, not even JSON"), bc_shop)
    assert result == Skip("scope not handled")


def test_handles_exactly_the_listed_scopes(bc_adapter: BigCommerceAdapter) -> None:
    assert bc_adapter.platform == "bigcommerce"
    assert {
        "store/order/created",
        "store/order/updated",
        "store/order/statusUpdated",
        "store/order/archived",
        "store/customer/created",
        "store/customer/updated",
        "store/customer/deleted",
        "store/shipment/created",
        "store/subscriber/created",
        "store/subscriber/updated",
        "reconcile/order",
        "reconcile/customer",
        "store/app/uninstalled",
    } == SCOPES_HANDLED
    assert all(bc_adapter.handles(scope) for scope in SCOPES_HANDLED)
    assert not bc_adapter.handles("store/customer/address/updated")


def test_app_uninstalled_is_a_lifecycle_notice(bc_adapter: BigCommerceAdapter) -> None:
    # Nothing is fetched: processing asks BigCommerce (integration.shops.lifecycle) before it acts.
    at = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    stored = StoredEvent(1, "bigcommerce", "abc123", "store/app/uninstalled", b"{}", at, None)
    assert bc_adapter.translate(stored, ShopAccess(1, "abc123", None)) == [ShopUninstalled(at)]


@pytest.mark.parametrize(
    "producer, expected",
    [
        ("stores/abc123", "abc123"),
        ("stores/ABC123", None),
        ("stores/", None),
        ("stores/abc/def", None),
        ("shops/abc123", None),
        ("stores/" + "a" * 65, None),
        (123, None),
        (None, None),
    ],
)
def test_store_hash_from_producer(producer: object, expected: str | None) -> None:
    assert store_hash_from_producer(producer) == expected


def test_default_client_uses_the_injected_session_and_a_new_token_after_reinstall(
    fake_bc: FakeBigCommerce, bc_shop: ShopAccess
) -> None:
    add_sample_order(fake_bc, status_id=0)
    sessions: list[requests.Session] = []

    def new_session() -> requests.Session:
        sessions.append(requests.Session())
        return sessions[-1]

    bc_adapter = BigCommerceAdapter(fake_bc.url, session_factory=new_session)
    try:
        bc_adapter.translate(order_event(), bc_shop)
        fake_bc.add_store(STORE_HASH, "token-after-reinstall")
        add_sample_order(fake_bc, status_id=0)
        bc_adapter.translate(order_event(), ShopAccess(7, STORE_HASH, "token-after-reinstall"))
    finally:
        bc_adapter.close()

    assert len(sessions) == 1  # one pooled session, shared by the store's clients
    assert [r.headers["X-Auth-Token"] for r in fake_bc.requests] == [BC_TOKEN, "token-after-reinstall"]


def test_billing_snapshot_is_dated_at_checkout_not_at_the_last_status_change(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess
) -> None:
    """Regression: a status change weeks later must not make checkout-time billing details look newer
    than a profile the customer edited in between."""
    add_sample_order(fake_bc, date_modified="Mon, 01 Apr 2019 09:00:00 +0000")
    change = one_change(bc_adapter.translate(order_event("store/order/statusUpdated"), bc_shop))
    assert isinstance(change, OrderChange)
    assert change.updated_at == dt.datetime(2019, 4, 1, 9, 0, tzinfo=UTC)
    assert change.customer is not None
    assert change.customer.updated_at == ORDER_CREATED


@pytest.mark.parametrize(
    ("status_id", "payment_status", "paid_at"),
    [
        # Awaiting Payment, Pending, Manual Verification: not paid (an authorisation is not money).
        (7, "authorized", None),
        (1, "pending", None),
        (12, "held for review", None),
        # Paid and waiting to ship (fulfilment, shipment, pickup; disputed): the move into it is the
        # latest change, so date_modified.
        (11, "captured", ORDER_MODIFIED),
        (9, "captured", ORDER_MODIFIED),
        (8, "", ORDER_MODIFIED),  # an offline method the merchant marked paid: no payment_status
        (13, "captured", ORDER_MODIFIED),
        # First seen further along: paid no later than placed, as far as we can tell.
        (2, "captured", ORDER_CREATED),
        (10, "captured", ORDER_CREATED),
        (14, "partially refunded", ORDER_CREATED),
        # Never paid.
        (5, "void", None),
        (6, "declined", None),
    ],
)
def test_paid_at_from_the_fetched_orders_status(
    fake_bc: FakeBigCommerce,
    bc_adapter: BigCommerceAdapter,
    bc_shop: ShopAccess,
    status_id: int,
    payment_status: str,
    paid_at: dt.datetime | None,
) -> None:
    add_sample_order(fake_bc, status_id=status_id, payment_status=payment_status)

    change = one_change(bc_adapter.translate(order_event("store/order/statusUpdated"), bc_shop))

    assert isinstance(change, OrderChange)
    assert change.paid_at == paid_at
