"""The consent ledger: append-only, the state derived from it, platform consent recorded into it, our
unsubscribes pushed back to the platform, and the platform's echo of our push never flipping the state."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from integration.core.db import utcnow
from integration.core.runtime import Runtime
from integration.customers.models import Customer, TimelineEntry
from integration.events.changes import ConsentChange, ConsentChannel
from integration.messaging.ledger import Change, derived_state, entries, record
from integration.messaging.models import ConsentEntry, ConsentPush
from integration.messaging.pushback import PushLater, push
from tests.fakes.bigcommerce_api import FakeBigCommerce
from tests.fakes.shopify_admin import FakeShopify
from tests.helpers import (
    BC_TOKEN,
    SHOP_DOMAIN,
    SHOPIFY_TOKEN,
    STORE_HASH,
    RuntimeFactory,
    add_customer,
    add_shop,
    apply_changes,
)

PAGE = Change("customer", "page", wording="prefs-v1")
T0 = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)


@pytest.fixture
def platform_runtime(
    make_runtime: RuntimeFactory, shopify_server: FakeShopify, bigcommerce_server: FakeBigCommerce
) -> Runtime:
    return make_runtime(shopify_admin_url=shopify_server.admin_url_template, bigcommerce_api_url=bigcommerce_server.url)


def consent(
    customer_id: str, state: str, at: dt.datetime, channel: ConsentChannel = ConsentChannel.EMAIL
) -> ConsentChange:
    return ConsentChange(customer_platform_id=customer_id, channel=channel, state=state, updated_at=at)


def state_of(runtime: Runtime, customer_id: int) -> tuple[str | None, list[ConsentEntry]]:
    with runtime.session() as session:
        column = session.scalar(sa.select(Customer.email_consent).where(Customer.id == customer_id))
        found = entries(session, customer_id)
        for entry in found:
            session.expunge(entry)
        assert derived_state(session, customer_id).get("email") == column  # the column is derived from the ledger
        return column, found


def test_platform_consent_is_recorded_in_the_ledger_only_when_it_is_news(runtime: Runtime) -> None:
    shop = add_shop(runtime)
    customer_id = add_customer(runtime, shop.id, "501", email="ann@example.com")
    apply_changes(runtime, shop.id, consent("501", "subscribed", T0))
    apply_changes(runtime, shop.id, consent("501", "subscribed", T0 + dt.timedelta(hours=1)))  # no change
    apply_changes(runtime, shop.id, consent("501", "unsubscribed", T0 - dt.timedelta(hours=1)))  # older news
    column, found = state_of(runtime, customer_id)
    assert column == "subscribed"
    [entry] = found
    assert (entry.topic, entry.value, entry.previous, entry.actor, entry.method, entry.occurred_at) == (
        "email",
        "subscribed",
        None,
        "platform",
        "webhook",
        T0,
    )
    apply_changes(runtime, shop.id, consent("501", "unsubscribed", T0 + dt.timedelta(days=1)))
    column, found = state_of(runtime, customer_id)
    assert column == "unsubscribed" and [e.value for e in found] == ["unsubscribed", "subscribed"]
    assert found[0].previous == "subscribed"
    with runtime.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ConsentPush)) == 0  # the platform's own change


def test_our_unsubscribe_is_pushed_to_shopify_and_its_echo_does_not_flip_state(
    platform_runtime: Runtime, shopify: FakeShopify
) -> None:
    runtime = platform_runtime
    shop = add_shop(runtime, "shopify", SHOP_DOMAIN, SHOPIFY_TOKEN)
    shopify.add_customer(SHOP_DOMAIN, 501, email="ann@example.com")
    customer_id = add_customer(runtime, shop.id, "501", email="ann@example.com")
    apply_changes(runtime, shop.id, consent("501", "subscribed", T0))

    with runtime.session() as session:
        entry = record(session, shop.id, customer_id, "email", "unsubscribed", PAGE)
        assert entry is not None and entry.wording_version == "prefs-v1" and entry.previous == "subscribed"
        [queued] = session.scalars(sa.select(ConsentPush)).all()
        push_id = queued.id
    assert push(runtime, push_id, retries_left=3) == "done"
    assert shopify.customer(SHOP_DOMAIN, 501)["emailMarketingConsent"]["marketingState"] == "UNSUBSCRIBED"
    [mutation] = [m for m in shopify.mutations if m.root_field == "customerEmailMarketingConsentUpdate"]
    assert mutation.variables["input"]["customerId"] == "gid://shopify/Customer/501"
    assert push(runtime, push_id, retries_left=3) == "done"  # a repeated job writes nothing again
    assert len([m for m in shopify.mutations if m.root_field == "customerEmailMarketingConsentUpdate"]) == 1

    # The customer changes their mind here before Shopify's notice of our own write arrives.
    with runtime.session() as session:
        record(session, shop.id, customer_id, "email", "subscribed", PAGE)
    echo_at = utcnow() + dt.timedelta(seconds=5)
    apply_changes(runtime, shop.id, consent("501", "unsubscribed", echo_at))  # Shopify's echo, stamped later

    column, found = state_of(runtime, customer_id)
    assert column == "subscribed"  # the echo did not flip it back
    assert [(e.actor, e.value) for e in found] == [
        ("customer", "subscribed"),
        ("customer", "unsubscribed"),
        ("platform", "subscribed"),
    ]
    with runtime.session() as session:
        assert session.get_one(ConsentPush, push_id).state == "echoed"
    # A genuine later change on Shopify (not our echo) is news and wins.
    apply_changes(runtime, shop.id, consent("501", "unsubscribed", echo_at + dt.timedelta(days=3)))
    assert state_of(runtime, customer_id)[0] == "unsubscribed"


def test_our_unsubscribe_takes_the_bigcommerce_subscriber_off_the_newsletter(
    platform_runtime: Runtime, fake_bc: FakeBigCommerce
) -> None:
    runtime = platform_runtime
    fake_bc.add_store(STORE_HASH, BC_TOKEN)
    fake_bc.subscribers[(STORE_HASH, 7)] = {
        "id": 7,
        "email": "Ann@Example.com",
        "consents": ["marketing_newsletter", "abandoned_cart"],
    }
    shop = add_shop(runtime, "bigcommerce", STORE_HASH, BC_TOKEN)
    customer_id = add_customer(runtime, shop.id, "31", email="ann@example.com", email_consent="subscribed")
    with runtime.session() as session:
        record(session, shop.id, customer_id, "email", "unsubscribed", Change("customer", "one_click"))
        push_id = session.scalars(sa.select(ConsentPush.id)).one()
    assert push(runtime, push_id, retries_left=3) == "done"
    assert fake_bc.subscribers[(STORE_HASH, 7)]["consents"] == ["abandoned_cart"]
    [put] = fake_bc.requests_to(r"/v3/customers/subscribers/7$")
    assert put.method == "PUT"


def test_a_refusal_is_kept_for_ops(platform_runtime: Runtime, shopify: FakeShopify) -> None:
    runtime = platform_runtime
    shop = add_shop(runtime, "shopify", SHOP_DOMAIN, SHOPIFY_TOKEN)
    customer_id = add_customer(runtime, shop.id, "999", email="gone@example.com", email_consent="subscribed")
    with runtime.session() as session:
        record(session, shop.id, customer_id, "email", "unsubscribed", PAGE)
        push_id = session.scalars(sa.select(ConsentPush.id)).one()
    # No such customer on Shopify: userErrors, a permanent refusal, kept on the row.
    assert push(runtime, push_id, retries_left=3) == "failed"
    with runtime.session() as session:
        row = session.get_one(ConsentPush, push_id)
        assert row.error is not None and "Customer not found" in row.error


def test_a_platform_outage_is_retried(platform_runtime: Runtime, fake_bc: FakeBigCommerce) -> None:
    runtime = platform_runtime
    fake_bc.add_store(STORE_HASH, BC_TOKEN)
    fake_bc.subscribers[(STORE_HASH, 7)] = {"id": 7, "email": "ann@example.com", "consents": ["marketing_newsletter"]}
    shop = add_shop(runtime, "bigcommerce", STORE_HASH, BC_TOKEN)
    customer_id = add_customer(runtime, shop.id, "31", email="ann@example.com", email_consent="subscribed")
    with runtime.session() as session:
        record(session, shop.id, customer_id, "email", "unsubscribed", PAGE)
        push_id = session.scalars(sa.select(ConsentPush.id)).one()
    fake_bc.queue_response("PUT", r"/v3/customers/subscribers/7$", 503)
    with pytest.raises(PushLater):
        push(runtime, push_id, retries_left=2)
    with runtime.session() as session:
        row = session.get_one(ConsentPush, push_id)
        assert (row.state, row.attempts) == ("queued", 1) and "503" in (row.error or "")
    assert push(runtime, push_id, retries_left=1) == "done"
    assert fake_bc.subscribers[(STORE_HASH, 7)]["consents"] == []


def test_the_ledger_is_the_timeline_and_the_state_of_preferences_too(runtime: Runtime) -> None:
    shop = add_shop(runtime)
    customer_id = add_customer(runtime, shop.id, "1", email="ann@example.com")
    with runtime.session() as session:
        record(session, shop.id, customer_id, "frequency", "monthly", PAGE)
        record(session, shop.id, customer_id, "interests", '["Books"]', PAGE)
        assert record(session, shop.id, customer_id, "frequency", "monthly", PAGE) is None  # nothing changed
        record(session, shop.id, customer_id, "calls", "unsubscribed", Change("rep", "call", actor_ref="rep:3"))
    with runtime.session() as session:
        assert derived_state(session, customer_id) == {
            "frequency": "monthly",
            "interests": ["Books"],
            "calls": "unsubscribed",
        }
        summaries = list(
            session.scalars(sa.select(TimelineEntry.summary).where(TimelineEntry.customer_id == customer_id))
        )
    assert summaries == ["Calls consent: unsubscribed (told the rep)"]
