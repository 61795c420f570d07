"""Thank-you codes: made on the platform before the email goes (Shopify discountCodeBasicCreate limited to
the customer; a single-use BigCommerce coupon), on the timeline; when the platform refuses, the email goes
without the code and the reason stays for ops."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from integration.core.db import utcnow
from integration.core.runtime import Runtime
from integration.customers.models import Order, OrderLine, TimelineEntry
from integration.messaging import thankyou
from integration.messaging.codes import MakeLater, make
from integration.messaging.models import EmailSettings, OutboxMessage, ThankYouCode
from integration.messaging.outbox import relay
from tests.fakes.bigcommerce_api import FakeBigCommerce
from tests.fakes.shopify_admin import FakeShopify
from tests.helpers import BC_TOKEN, SHOP_DOMAIN, SHOPIFY_TOKEN, STORE_HASH, RuntimeFactory, add_customer, add_shop


@pytest.fixture
def platform_runtime(
    make_runtime: RuntimeFactory, shopify_server: FakeShopify, bigcommerce_server: FakeBigCommerce
) -> Runtime:
    return make_runtime(
        shopify_admin_url=shopify_server.admin_url_template,
        bigcommerce_api_url=bigcommerce_server.url,
        smtp_url="smtp://127.0.0.1:9",  # relaying is what is looked at here, not sending
        public_url="https://app.example",
    )


def thank_you_with_code(runtime: Runtime, platform: str, identifier: str, token: str) -> tuple[int, int]:
    shop = add_shop(runtime, platform, identifier, token, name="Fern & Co", sender_email="hi@fern.example")
    customer_id = add_customer(runtime, shop.id, "501", email="cal@example.com", first_name="Cal", country_code="US")
    now = utcnow()
    with runtime.session() as session:
        session.add(EmailSettings(shop_id=shop.id, codes_enabled=True, code_percent=15, code_days=30))
        order = Order(
            shop_id=shop.id, platform_order_id="1001", customer_id=customer_id, name="#1001", status="paid",
            placed_at=now, paid_at=now, source_updated_at=now,
        )  # fmt: skip
        session.add(order)
        session.flush()
        session.add(OrderLine(order_id=order.id, title="Teapot", quantity=1))
        outbox_id = thankyou.schedule(session, runtime.settings, order.id, now=now)
        assert outbox_id is not None
        code_id = session.scalars(sa.select(ThankYouCode.id)).one()
    return outbox_id, code_id


def rows(runtime: Runtime, outbox_id: int, code_id: int) -> tuple[OutboxMessage, ThankYouCode]:
    with runtime.session() as session:
        mail, code = session.get_one(OutboxMessage, outbox_id), session.get_one(ThankYouCode, code_id)
        session.expunge_all()
        return mail, code


def test_the_code_is_made_on_shopify_for_that_customer_before_the_email_goes(
    platform_runtime: Runtime, shopify: FakeShopify
) -> None:
    outbox_id, code_id = thank_you_with_code(platform_runtime, "shopify", SHOP_DOMAIN, SHOPIFY_TOKEN)
    mail, code = rows(platform_runtime, outbox_id, code_id)
    assert mail.status == "waiting" and code.code in mail.text_body and code.code in (mail.html_body or "")
    assert code.code not in code.fallback_text
    with platform_runtime.session() as session:
        session.execute(sa.update(OutboxMessage).values(send_after=None))
    assert relay(platform_runtime) == 0  # held back until the code exists

    assert make(platform_runtime, code_id, retries_left=3) == "created"
    [mutation] = [m for m in shopify.mutations if m.root_field == "discountCodeBasicCreate"]
    discount = mutation.variables["discount"]
    assert discount["code"] == code.code and discount["usageLimit"] == 1 and discount["appliesOncePerCustomer"]
    assert discount["context"] == {"customers": {"add": ["gid://shopify/Customer/501"]}}
    assert discount["customerGets"]["value"] == {"percentage": 0.15}
    mail, code = rows(platform_runtime, outbox_id, code_id)
    assert (mail.status, code.state) == ("queued", "created")
    with platform_runtime.session() as session:
        summary = session.scalars(sa.select(TimelineEntry.summary).where(TimelineEntry.kind == "code")).one()
    assert summary.startswith(f"Thank-you code {code.code}: 15 % off, once, until ")
    assert make(platform_runtime, code_id, retries_left=3) == "created"  # a repeated job makes nothing twice
    assert len([m for m in shopify.mutations if m.root_field == "discountCodeBasicCreate"]) == 1


def test_a_bigcommerce_coupon_and_a_refusal_sends_the_email_without_it(
    platform_runtime: Runtime, fake_bc: FakeBigCommerce
) -> None:
    fake_bc.add_store(STORE_HASH, BC_TOKEN)
    outbox_id, code_id = thank_you_with_code(platform_runtime, "bigcommerce", STORE_HASH, BC_TOKEN)
    fake_bc.queue_response("POST", r"/v2/coupons$", 503)
    with pytest.raises(MakeLater):
        make(platform_runtime, code_id, retries_left=2)
    assert rows(platform_runtime, outbox_id, code_id)[1].state == "pending"
    assert make(platform_runtime, code_id, retries_left=1) == "created"
    [coupon] = fake_bc.coupons[STORE_HASH]
    assert (coupon["type"], coupon["amount"], coupon["max_uses"], coupon["max_uses_per_customer"]) == (
        "percentage_discount",
        "15",
        1,
        1,
    )

    # A second order's code that BigCommerce refuses: the email goes without it, the reason is kept.
    with platform_runtime.session() as session:
        session.execute(sa.delete(ThankYouCode))
        session.execute(sa.delete(OutboxMessage))
        order_id = session.scalars(sa.select(Order.id)).one()
        outbox_id = thankyou.schedule(session, platform_runtime.settings, order_id, now=utcnow())
        assert outbox_id is not None
        code_id = session.scalars(sa.select(ThankYouCode.id)).one()
    fake_bc.queue_response("POST", r"/v2/coupons$", 422)
    assert make(platform_runtime, code_id, retries_left=3) == "failed"
    mail, code = rows(platform_runtime, outbox_id, code_id)
    assert mail.status == "queued" and code.code not in mail.text_body and code.code not in (mail.html_body or "")
    assert code.state == "failed" and code.error is not None and "422" in code.error
