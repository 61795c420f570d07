"""BigCommerce newsletter subscribers (Subscribers V3) as email consent, matched by email."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.customers.upserts import apply_change
from integration.events.changes import ConsentChange, ConsentChannel, Skip
from integration.platforms.bigcommerce.adapter import BigCommerceAdapter
from integration.platforms.interfaces import NotFoundAtPlatform, ShopAccess, StoredEvent
from tests.fakes.bigcommerce_api import FakeBigCommerce
from tests.helpers import STORE_HASH, add_shop

MODIFIED = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)


def subscriber_event(scope: str, subscriber_id: int) -> StoredEvent:
    body = {"scope": scope, "producer": f"stores/{STORE_HASH}", "data": {"type": "subscriber", "id": subscriber_id}}
    return StoredEvent(1, "bigcommerce", STORE_HASH, scope, json.dumps(body).encode(), None, None)


def add_subscriber(
    fake: FakeBigCommerce, subscriber_id: int, consents: list[str], email: str = "Sub@Example.com"
) -> None:
    fake.subscribers[(STORE_HASH, subscriber_id)] = {
        "id": subscriber_id,
        "email": email,
        "first_name": "Sam",
        "last_name": "Sub",
        "source": "storefront",
        "consents": consents,
        "date_created": "2026-02-01T00:00:00Z",
        "date_modified": MODIFIED.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


@pytest.mark.parametrize(
    ("consents", "state"),
    [(["marketing_newsletter"], "subscribed"), (["abandoned_cart"], "unsubscribed"), ([], "unsubscribed")],
)
def test_a_subscriber_becomes_email_consent(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess, consents: list[str], state: str
) -> None:
    add_subscriber(fake_bc, 5, consents)
    result = bc_adapter.translate(subscriber_event("store/subscriber/updated", 5), bc_shop)
    assert result == [
        ConsentChange(None, ConsentChannel.EMAIL, state, MODIFIED, email="Sub@Example.com"),
    ]
    assert fake_bc.requests_to(r"/v3/customers/subscribers$")[-1].query["id:in"] == "5"


def test_a_subscriber_gone_at_the_platform_is_not_found(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess
) -> None:
    with pytest.raises(NotFoundAtPlatform):
        bc_adapter.translate(subscriber_event("store/subscriber/created", 6), bc_shop)


def test_a_subscriber_without_an_email_is_skipped(
    fake_bc: FakeBigCommerce, bc_adapter: BigCommerceAdapter, bc_shop: ShopAccess
) -> None:
    add_subscriber(fake_bc, 7, ["marketing_newsletter"], email="")
    assert isinstance(bc_adapter.translate(subscriber_event("store/subscriber/created", 7), bc_shop), Skip)


def test_deleted_subscribers_are_not_handled(bc_adapter: BigCommerceAdapter) -> None:
    # Its body names an id only, and we keep no id -> email map: stored for ops, not acted on.
    assert not bc_adapter.handles("store/subscriber/deleted")


def test_subscriber_consent_finds_the_customer_by_email_or_starts_a_profile(runtime: Runtime) -> None:
    from integration.events.changes import CustomerChange

    shop = add_shop(runtime, "bigcommerce", "subs0store", "tok")
    with runtime.session() as session:
        apply_change(session, shop.id, CustomerChange("11", MODIFIED, email="known@example.com", first_name="Kim"))
        apply_change(
            session, shop.id, ConsentChange(None, ConsentChannel.EMAIL, "subscribed", MODIFIED, "Known@Example.com")
        )
        apply_change(
            session, shop.id, ConsentChange(None, ConsentChannel.EMAIL, "subscribed", MODIFIED, "new@example.com")
        )
    with runtime.session() as session:
        rows = session.execute(
            sa.select(Customer.platform_customer_id, Customer.email, Customer.email_consent).order_by(Customer.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("11", "known@example.com", "subscribed"),
        (None, "new@example.com", "subscribed"),
    ]
