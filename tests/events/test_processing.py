"""EventProcessor: claim a stored event, translate it with its adapter, apply it, record the outcome."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from integration.core.queues import RETRY_INTERVALS
from integration.core.runtime import Runtime
from integration.customers.models import Customer, Fulfillment, Order, OrderLine
from integration.events.changes import Change, Skip
from integration.events.intake import EventIntake
from integration.events.models import EventStatus, WebhookEvent
from integration.events.processing import MAX_ERROR_LENGTH, EventFailed, EventProcessor, Outcome
from integration.platforms.interfaces import (
    BadPayload,
    NotFoundAtPlatform,
    ShopAccess,
    StoredEvent,
    TransientPlatformError,
)
from integration.shops.models import ShopState
from integration.shops.registry import RegisteredShop
from tests.helpers import SHOP_DOMAIN, add_shop, fixture_bytes, post_shopify, store_shopify_event, update_shop

ORDER_ID = "820982911946154500"


def event(runtime: Runtime, event_id: int) -> WebhookEvent:
    with runtime.session() as session:
        row = session.get(WebhookEvent, event_id)
        assert row is not None
        return row


def count(runtime: Runtime, model: type) -> int:
    with runtime.session() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


class FakeAdapter:
    """Raises ``error`` or returns ``result``; records what it was given."""

    platform = "shopify"

    def __init__(self, error: Exception | None = None, result: Sequence[Change] | Skip = ()) -> None:
        self.error = error
        self.result = result
        self.calls: list[tuple[StoredEvent, ShopAccess]] = []

    def handles(self, topic: str) -> bool:
        return True

    def translate(self, event: StoredEvent, shop: ShopAccess) -> Sequence[Change] | Skip:
        self.calls.append((event, shop))
        if self.error is not None:
            raise self.error
        return self.result


def fake_processor(runtime: Runtime, adapter: FakeAdapter) -> EventProcessor:
    return EventProcessor(runtime, adapters={"shopify": adapter})


# --- the real adapters on real payloads ------------------------------------------------------------


def test_orders_create_is_applied_and_done(runtime: Runtime, intake: EventIntake, shop: RegisteredShop) -> None:
    event_id = store_shopify_event(intake, fixture_bytes("shopify/shopify_orders_create.json"))
    before = dt.datetime.now(dt.UTC)
    assert EventProcessor(runtime).process(event_id) is Outcome.DONE

    row = event(runtime, event_id)
    assert row.status == EventStatus.DONE
    assert row.attempts == 1
    assert row.last_error is None
    assert row.started_at is not None
    assert row.processed_at is not None
    assert before <= row.started_at <= row.processed_at

    with runtime.session() as session:
        order = session.scalars(sa.select(Order)).one()
        customer = session.scalars(sa.select(Customer)).one()
        lines = list(session.scalars(sa.select(OrderLine).order_by(OrderLine.id)))
        assert order.shop_id == shop.id
        assert order.platform_order_id == ORDER_ID
        assert (order.name, order.currency, order.total_price, order.status) == (
            "#9999",
            "USD",
            Decimal("404.95"),
            "cancelled",
        )
        assert order.source_updated_at == dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
        assert order.customer_id == customer.id
        assert customer.platform_customer_id == "115310627314723950"
        assert customer.email == "john@example.com"
        assert [(line.title, line.quantity, line.sku) for line in lines] == [
            ("Aviator sunglasses", 1, "SKU2006-001"),
            ("Lens Protection Plan (2 Year)", 1, "LENS-PROTECT-2YR"),
            ("Premium Leather Case", 1, "CASE-LEATHER-PREM"),
            ("Mid-century lounger", 1, "SKU2006-020"),
            ("Coffee table", 1, "SKU2006-035"),
        ]


def test_a_delivery_posted_to_the_app_is_processed(client: FlaskClient, app_runtime: Runtime) -> None:
    add_shop(app_runtime)
    response = post_shopify(client, fixture_bytes("shopify/shopify_orders_create.json"), webhook_id="posted-1")
    assert response.status_code == 200
    with app_runtime.session() as session:
        event_id = session.scalars(sa.select(WebhookEvent.id)).one()
    assert EventProcessor(app_runtime).process(event_id) is Outcome.DONE
    assert event(app_runtime, event_id).status == EventStatus.DONE
    assert count(app_runtime, Order) == 1
    assert count(app_runtime, OrderLine) == 5


def test_customers_and_fulfillments_are_applied(runtime: Runtime, intake: EventIntake, shop: RegisteredShop) -> None:
    processor = EventProcessor(runtime)
    customer_event = store_shopify_event(
        intake,
        fixture_bytes("shopify/shopify_customers_create.json"),
        topic="customers/create",
        webhook_id="c",
    )
    fulfillment_event = store_shopify_event(
        intake,
        fixture_bytes("shopify/shopify_fulfillments_create.json"),
        topic="fulfillments/create",
        webhook_id="f",
    )
    assert processor.process(customer_event) is Outcome.DONE
    assert processor.process(fulfillment_event) is Outcome.DONE
    with runtime.session() as session:
        customer = session.scalars(sa.select(Customer)).one()
        fulfillment = session.scalars(sa.select(Fulfillment)).one()
        assert (customer.platform_customer_id, customer.email) == ("706405506930370000", "bob@biller.com")
        assert (fulfillment.platform_fulfillment_id, fulfillment.status, fulfillment.tracking_number) == (
            "5548231622715390977",
            "shipped",
            "7023210039414604",
        )


def test_unknown_shop_is_quarantined(runtime: Runtime, intake: EventIntake) -> None:
    event_id = store_shopify_event(intake, fixture_bytes("shopify/shopify_orders_create.json"))
    assert EventProcessor(runtime).process(event_id) is Outcome.QUARANTINED
    row = event(runtime, event_id)
    assert row.status == EventStatus.QUARANTINED
    assert row.last_error == f"shop {SHOP_DOMAIN!r} is not installed"
    assert row.processed_at is not None
    assert count(runtime, Order) == 0


def test_uninstalled_shop_is_quarantined(runtime: Runtime, intake: EventIntake, shop: RegisteredShop) -> None:
    update_shop(runtime, shop.id, state=ShopState.UNINSTALLED)
    event_id = store_shopify_event(intake, fixture_bytes("shopify/shopify_orders_create.json"))
    assert EventProcessor(runtime).process(event_id) is Outcome.QUARANTINED
    assert "is not installed" in (event(runtime, event_id).last_error or "")
    assert count(runtime, Order) == 0


def test_non_json_body_is_quarantined(runtime: Runtime, intake: EventIntake, shop: RegisteredShop) -> None:
    event_id = store_shopify_event(intake, b"<html>not json</html>")
    assert EventProcessor(runtime).process(event_id) is Outcome.QUARANTINED
    row = event(runtime, event_id)
    assert row.status == EventStatus.QUARANTINED
    assert row.last_error is not None
    assert "not valid JSON" in row.last_error
    assert row.processed_at is not None


def test_compliance_topic_is_ignored_with_a_reason(client: FlaskClient, app_runtime: Runtime) -> None:
    add_shop(app_runtime)
    body = b'{"shop_id": 954889, "shop_domain": "demo-shop.myshopify.com", "customer": {"id": 191167}}'
    assert post_shopify(client, body, topic="customers/redact", webhook_id="gdpr-1").status_code == 200
    with app_runtime.session() as session:
        row = session.scalars(sa.select(WebhookEvent)).one()
    assert row.status == EventStatus.RECEIVED  # stored for the compliance capability, not born ignored
    assert EventProcessor(app_runtime).process(row.id) is Outcome.IGNORED
    row = event(app_runtime, row.id)
    assert row.status == EventStatus.IGNORED
    assert row.last_error == "topic 'customers/redact' has no handler yet"
    assert row.processed_at is not None


def test_platform_without_an_adapter_is_ignored(runtime: Runtime, intake: EventIntake) -> None:
    event_id = store_shopify_event(intake, b"{}")
    processor = EventProcessor(runtime, adapters={})
    assert processor.process(event_id) is Outcome.IGNORED
    assert event(runtime, event_id).last_error == "topic 'orders/create' has no handler yet"


def test_processing_twice_is_not_claimed_and_changes_nothing(
    runtime: Runtime, intake: EventIntake, shop: RegisteredShop
) -> None:
    event_id = store_shopify_event(intake, fixture_bytes("shopify/shopify_orders_create.json"))
    processor = EventProcessor(runtime)
    assert processor.process(event_id) is Outcome.DONE
    first = event(runtime, event_id)
    with runtime.session() as session:
        order_updated = session.scalars(sa.select(Order.updated_at)).one()

    adapter = FakeAdapter(error=AssertionError("must not be called"))
    assert fake_processor(runtime, adapter).process(event_id) is Outcome.NOT_CLAIMED
    assert processor.process(event_id) is Outcome.NOT_CLAIMED
    assert adapter.calls == []
    again = event(runtime, event_id)
    assert (again.status, again.attempts, again.processed_at, again.started_at) == (
        EventStatus.DONE,
        1,
        first.processed_at,
        first.started_at,
    )
    with runtime.session() as session:
        assert session.scalars(sa.select(Order.updated_at)).one() == order_updated
    assert count(runtime, OrderLine) == 5


def test_an_event_being_processed_is_not_claimed_again(
    runtime: Runtime, intake: EventIntake, shop: RegisteredShop
) -> None:
    event_id = store_shopify_event(intake, b"{}")
    processor = fake_processor(runtime, FakeAdapter())
    assert processor.claim(event_id)
    assert not processor.claim(event_id)
    assert processor.process(event_id) is Outcome.NOT_CLAIMED
    row = event(runtime, event_id)
    assert (row.status, row.attempts) == (EventStatus.PROCESSING, 1)


def test_missing_event_is_not_claimed(runtime: Runtime) -> None:
    assert EventProcessor(runtime, adapters={}).process(424242) is Outcome.NOT_CLAIMED


# --- failures --------------------------------------------------------------------------------------


def test_failure_with_retries_left_goes_back_to_received(
    runtime: Runtime, intake: EventIntake, shop: RegisteredShop
) -> None:
    event_id = store_shopify_event(intake, b"{}")
    adapter = FakeAdapter(error=RuntimeError("adapter exploded"))
    with pytest.raises(EventFailed, match="adapter exploded"):
        fake_processor(runtime, adapter).process(event_id, retries_left=2)
    row = event(runtime, event_id)
    assert row.status == EventStatus.RECEIVED
    assert row.attempts == 1
    assert row.last_error == "RuntimeError: adapter exploded"
    assert row.processed_at is None
    assert row.retry_at is None
    assert row.queued_at is not None  # RQ's retry owns it; the relay must not queue it again

    # The retry succeeds: done, the error cleared, two attempts counted.
    adapter.error = None
    assert fake_processor(runtime, adapter).process(event_id, retries_left=1) is Outcome.DONE
    row = event(runtime, event_id)
    assert (row.status, row.attempts, row.last_error) == (EventStatus.DONE, 2, None)
    event_seen, access = adapter.calls[0]
    assert (event_seen.id, event_seen.topic, event_seen.body, event_seen.api_version) == (
        event_id,
        "orders/create",
        b"{}",
        "2026-10",
    )
    assert (access.shop_id, access.identifier, access.access_token) == (shop.id, SHOP_DOMAIN, "shpat_x")


@pytest.mark.parametrize("retries_left", [0, None])
def test_failure_without_retries_left_is_final(
    runtime: Runtime, intake: EventIntake, shop: RegisteredShop, retries_left: int | None
) -> None:
    event_id = store_shopify_event(intake, b"{}")
    with pytest.raises(EventFailed):
        fake_processor(runtime, FakeAdapter(error=KeyError("line_items"))).process(event_id, retries_left=retries_left)
    row = event(runtime, event_id)
    assert row.status == EventStatus.FAILED
    assert row.attempts == 1
    assert row.last_error == "KeyError: 'line_items'"
    assert row.processed_at is not None
    assert fake_processor(runtime, FakeAdapter()).process(event_id) is Outcome.NOT_CLAIMED


def test_long_errors_are_cut(runtime: Runtime, intake: EventIntake, shop: RegisteredShop) -> None:
    event_id = store_shopify_event(intake, b"{}")
    with pytest.raises(EventFailed):
        fake_processor(runtime, FakeAdapter(error=ValueError("x" * 10_000))).process(event_id, retries_left=0)
    assert len(event(runtime, event_id).last_error or "") == MAX_ERROR_LENGTH


def test_transient_error_without_retries_left_waits_for_the_sweep(
    runtime: Runtime, intake: EventIntake, shop: RegisteredShop
) -> None:
    event_id = store_shopify_event(intake, b"{}")
    before = dt.datetime.now(dt.UTC)
    outcome = fake_processor(runtime, FakeAdapter(error=TransientPlatformError("429 from platform"))).process(
        event_id, retries_left=0
    )
    after = dt.datetime.now(dt.UTC)
    assert outcome is Outcome.RETRY
    row = event(runtime, event_id)
    assert row.status == EventStatus.RECEIVED  # never failed for a platform outage
    assert row.processed_at is None
    assert row.last_error == "TransientPlatformError: 429 from platform"
    assert row.attempts == 1
    assert row.retry_at is not None
    longest = dt.timedelta(seconds=RETRY_INTERVALS[-1])
    assert before + longest <= row.retry_at <= after + longest


def test_transient_error_honours_a_longer_retry_after(
    runtime: Runtime, intake: EventIntake, shop: RegisteredShop
) -> None:
    event_id = store_shopify_event(intake, b"{}")
    before = dt.datetime.now(dt.UTC)
    error = TransientPlatformError("503", retry_after=2 * RETRY_INTERVALS[-1])
    assert fake_processor(runtime, FakeAdapter(error=error)).process(event_id, retries_left=0) is Outcome.RETRY
    retry_at = event(runtime, event_id).retry_at
    assert retry_at is not None
    assert retry_at >= before + dt.timedelta(seconds=2 * RETRY_INTERVALS[-1])


def test_transient_error_with_retries_left_is_left_to_rq(
    runtime: Runtime, intake: EventIntake, shop: RegisteredShop
) -> None:
    event_id = store_shopify_event(intake, b"{}")
    with pytest.raises(EventFailed, match="timeout"):
        fake_processor(runtime, FakeAdapter(error=TransientPlatformError("timeout"))).process(event_id, retries_left=3)
    row = event(runtime, event_id)
    assert (row.status, row.retry_at, row.processed_at) == (EventStatus.RECEIVED, None, None)


def test_not_found_at_platform_is_done_with_the_reason(
    runtime: Runtime, intake: EventIntake, shop: RegisteredShop
) -> None:
    event_id = store_shopify_event(intake, b"{}")
    adapter = FakeAdapter(error=NotFoundAtPlatform("order 250 is gone"))
    assert fake_processor(runtime, adapter).process(event_id, retries_left=2) is Outcome.DONE
    row = event(runtime, event_id)
    assert row.status == EventStatus.DONE
    assert row.last_error == "not found at the platform: order 250 is gone"
    assert row.processed_at is not None


def test_skip_is_ignored_with_the_reason(runtime: Runtime, intake: EventIntake, shop: RegisteredShop) -> None:
    event_id = store_shopify_event(intake, b"{}")
    adapter = FakeAdapter(result=Skip("checkout not completed"))
    assert fake_processor(runtime, adapter).process(event_id) is Outcome.IGNORED
    row = event(runtime, event_id)
    assert (row.status, row.last_error) == (EventStatus.IGNORED, "checkout not completed")
    assert row.processed_at is not None


def test_bad_payload_from_an_adapter_is_quarantined(
    runtime: Runtime, intake: EventIntake, shop: RegisteredShop
) -> None:
    event_id = store_shopify_event(intake, b"{}")
    adapter = FakeAdapter(error=BadPayload("order has no usable id"))
    assert fake_processor(runtime, adapter).process(event_id, retries_left=2) is Outcome.QUARANTINED
    row = event(runtime, event_id)
    assert (row.status, row.last_error) == (EventStatus.QUARANTINED, "BadPayload: order has no usable id")


# --- ordering --------------------------------------------------------------------------------------


def test_orders_updated_before_orders_create_ends_with_the_newer_order(
    runtime: Runtime, intake: EventIntake, shop: RegisteredShop
) -> None:
    updated = store_shopify_event(
        intake, fixture_bytes("shopify/shopify_orders_updated.json"), topic="orders/updated", webhook_id="u"
    )
    created = store_shopify_event(intake, fixture_bytes("shopify/shopify_orders_create.json"), webhook_id="c")
    processor = EventProcessor(runtime)
    assert processor.process(updated) is Outcome.DONE
    assert processor.process(created) is Outcome.DONE  # done: there was nothing newer to write

    with runtime.session() as session:
        order = session.scalars(sa.select(Order)).one()
        customer = session.scalars(sa.select(Customer)).one()
        lines = list(session.scalars(sa.select(OrderLine).order_by(OrderLine.id)))
        assert order.source_updated_at == dt.datetime(2022, 1, 3, 14, 15, 30, tzinfo=dt.UTC)
        assert (lines[0].title, lines[0].quantity, lines[0].variant_id) == (
            "Aviator sunglasses",
            2,
            "49148385706295801",
        )
        assert len(lines) == 5
        assert customer.phone == "+16135550123"
        assert customer.source_updated_at == dt.datetime(2022, 1, 2, 16, 0, tzinfo=dt.UTC)
        assert order.customer_id == customer.id


def test_orders_create_then_updated_ends_with_the_newer_order(
    runtime: Runtime, intake: EventIntake, shop: RegisteredShop
) -> None:
    created = store_shopify_event(intake, fixture_bytes("shopify/shopify_orders_create.json"), webhook_id="c")
    updated = store_shopify_event(
        intake, fixture_bytes("shopify/shopify_orders_updated.json"), topic="orders/updated", webhook_id="u"
    )
    processor = EventProcessor(runtime)
    assert processor.process(created) is Outcome.DONE
    assert processor.process(updated) is Outcome.DONE
    with runtime.session() as session:
        quantities = list(session.scalars(sa.select(OrderLine.quantity).order_by(OrderLine.id)))
        assert quantities == [2, 1, 1, 1, 1]
        assert session.scalars(sa.select(Customer.phone)).one() == "+16135550123"
