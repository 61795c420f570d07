"""Write-back of segment and rep to Shopify and BigCommerce, over real HTTP against the fakes."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from integration.core.db import utcnow
from integration.core.queues import BULK
from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.events.models import EventStatus, WebhookEvent
from integration.platforms.bigcommerce.writer import BC_REP_ATTRIBUTE, BC_SEGMENT_ATTRIBUTE
from integration.platforms.interfaces import TransientPlatformError
from integration.shops.models import Shop, ShopState
from integration.sync.tasks import WRITE_BACK
from integration.sync.writeback import (
    REFUSAL_BACKOFF,
    enqueue_all,
    pending,
    write_back_shop,
)
from jobs.sync import write_back_all
from tests.fakes.bigcommerce_api import FakeBigCommerce, sample_customer
from tests.fakes.shopify_admin import FakeShopify
from tests.helpers import (
    BC_TOKEN,
    SHOP_DOMAIN,
    SHOPIFY_TOKEN,
    STORE_HASH,
    RuntimeFactory,
    add_customer,
    add_shop,
    drain,
    fixture_bytes,
    job_environment,
    post_shopify,
    update_shop,
)
from tests.platform_fixtures import SuiteBigCommerce

OTHER_APP_TAG = "loyalty-app:gold"


# --- fakes and runtimes -----------------------------------------------------------------------------


@pytest.fixture
def wb_runtime(
    make_runtime: RuntimeFactory, shopify_server: FakeShopify, bigcommerce_server: SuiteBigCommerce
) -> Runtime:
    return make_runtime(shopify_admin_url=shopify_server.admin_url_template, bigcommerce_api_url=bigcommerce_server.url)


# --- data ---------------------------------------------------------------------------------------------


def shopify_shop(runtime: Runtime, vip_from: str = "100") -> int:
    return add_shop(runtime, "shopify", SHOP_DOMAIN, SHOPIFY_TOKEN, vip_threshold_override=Decimal(vip_from)).id


def bc_shop(runtime: Runtime, vip_from: str = "100") -> int:
    return add_shop(runtime, "bigcommerce", STORE_HASH, BC_TOKEN, vip_threshold_override=Decimal(vip_from)).id


def returning_customer(
    runtime: Runtime, shop_id: int, platform_id: str | None, *, orders: int = 2, spent: str = "50", **columns: object
) -> int:
    """A profile whose segment follows from its totals: 2 orders under the threshold is "returning"."""
    email = f"c{platform_id}@example.com" if platform_id else None
    return add_customer(
        runtime, shop_id, platform_id, email=email, orders_count=orders, total_spent=Decimal(spent), **columns
    )


def customer(runtime: Runtime, customer_id: int) -> Customer:
    with runtime.session() as session:
        row = session.get(Customer, customer_id)
        assert row is not None
        return row


def spend(runtime: Runtime, customer_id: int, amount: str) -> None:
    with runtime.session() as session:
        session.execute(sa.update(Customer).where(Customer.id == customer_id).values(total_spent=Decimal(amount)))


def profile_metafield(shopify: FakeShopify, customer_id: str) -> dict[str, object]:
    metafield = shopify.metafields(SHOP_DOMAIN, customer_id)[("personal_commerce", "profile")]
    assert metafield["type"] == "json"
    value: dict[str, object] = json.loads(metafield["value"])
    return value


# --- Shopify ------------------------------------------------------------------------------------------


def test_a_vip_gets_the_tag_and_the_metafield_and_other_tags_survive(wb_runtime: Runtime, shopify: FakeShopify) -> None:
    shop_id = shopify_shop(wb_runtime)
    shopify.add_customer(SHOP_DOMAIN, 1001, tags=[OTHER_APP_TAG, "merchant-note"])
    vip = returning_customer(wb_runtime, shop_id, "1001", orders=3, spent="500")

    report = write_back_shop(wb_runtime, shop_id)

    assert (report.written, report.refused, report.stopped) == (1, 0, None)
    assert shopify.tags(SHOP_DOMAIN, 1001) == sorted([OTHER_APP_TAG, "merchant-note", "pc-segment:vip"])
    assert profile_metafield(shopify, "1001") == {"segment": "vip", "rep": None}
    # Tags only ever through tagsAdd/tagsRemove: customerUpdate would replace other apps' tags.
    assert {r.root_field for r in shopify.graphql_requests()} == {"tagsAdd", "metafieldsSet"}
    row = customer(wb_runtime, vip)
    assert (row.written_segment, row.written_rep, row.writeback_error) == ("vip", None, None)
    assert row.written_at is not None


def test_nothing_is_written_when_nothing_changed(wb_runtime: Runtime, shopify: FakeShopify) -> None:
    shop_id = shopify_shop(wb_runtime)
    for number in (1001, 1002):
        shopify.add_customer(SHOP_DOMAIN, number)
        returning_customer(wb_runtime, shop_id, str(number))
    assert write_back_shop(wb_runtime, shop_id).written == 2
    requests_after_first = len(shopify.requests)

    report = write_back_shop(wb_runtime, shop_id)

    assert (report.written, report.refused) == (0, 0)
    assert len(shopify.requests) == requests_after_first  # not one call, let alone a mutation


def test_a_segment_change_removes_the_old_tag_and_adds_the_new(wb_runtime: Runtime, shopify: FakeShopify) -> None:
    shop_id = shopify_shop(wb_runtime)
    shopify.add_customer(SHOP_DOMAIN, 1001, tags=[OTHER_APP_TAG])
    profile = returning_customer(wb_runtime, shop_id, "1001")
    write_back_shop(wb_runtime, shop_id)
    assert shopify.tags(SHOP_DOMAIN, 1001) == sorted([OTHER_APP_TAG, "pc-segment:returning"])

    spend(wb_runtime, profile, "250")  # over the VIP threshold now
    shopify.mutations.clear()
    assert write_back_shop(wb_runtime, shop_id).written == 1

    assert shopify.tags(SHOP_DOMAIN, 1001) == sorted([OTHER_APP_TAG, "pc-segment:vip"])
    removed = [m.variables["tags"] for m in shopify.mutations if m.root_field == "tagsRemove"]
    assert len(removed) == 1 and "pc-segment:returning" in removed[0] and "pc-segment:vip" not in removed[0]
    assert profile_metafield(shopify, "1001") == {"segment": "vip", "rep": None}
    assert customer(wb_runtime, profile).written_segment == "vip"


def test_a_threshold_change_alone_is_written_back(wb_runtime: Runtime, shopify: FakeShopify) -> None:
    # No event touches the customer: the segment is computed from the shop's current threshold.
    shop_id = shopify_shop(wb_runtime, vip_from="1000")
    shopify.add_customer(SHOP_DOMAIN, 1001)
    returning_customer(wb_runtime, shop_id, "1001", spent="300")
    write_back_shop(wb_runtime, shop_id)
    update_shop(wb_runtime, shop_id, vip_threshold_override=Decimal("200"))

    assert write_back_shop(wb_runtime, shop_id).written == 1
    assert "pc-segment:vip" in shopify.tags(SHOP_DOMAIN, 1001)


def test_guests_deleted_customers_and_other_shops_are_left_alone(wb_runtime: Runtime, shopify: FakeShopify) -> None:
    shop_id = shopify_shop(wb_runtime)
    other_shop = add_shop(wb_runtime, "shopify", "other-shop.myshopify.com", "shpat_other").id
    returning_customer(wb_runtime, shop_id, None)  # a guest: no platform record to write to
    returning_customer(wb_runtime, shop_id, "1002", deleted_at=utcnow())
    returning_customer(wb_runtime, other_shop, "1003")
    with wb_runtime.session() as session:
        assert pending(session, shop_id) == []

    assert write_back_shop(wb_runtime, shop_id).written == 0
    assert shopify.requests == []


def test_the_customers_update_after_our_write_causes_no_further_write(
    wb_runtime: Runtime, shopify: FakeShopify, client: FlaskClient, app_runtime: Runtime
) -> None:
    shop_id = shopify_shop(wb_runtime)
    platform_id = "706405506930370000"  # the id in the customers webhook fixture
    shopify.add_customer(SHOP_DOMAIN, platform_id, tags=[OTHER_APP_TAG])
    profile = returning_customer(wb_runtime, shop_id, platform_id, orders=3, spent="500")
    assert write_back_shop(wb_runtime, shop_id).written == 1
    written_at = customer(wb_runtime, profile).written_at
    mutations = len(shopify.mutations)

    # Shopify answers our tagsAdd/metafieldsSet with customers/update, carrying the tags we just set.
    payload = json.loads(fixture_bytes("shopify/shopify_customers_create_2024-10.json"))
    payload.update(
        email="c706405506930370000@example.com",
        tags=", ".join(shopify.tags(SHOP_DOMAIN, platform_id)),
        updated_at=utcnow().isoformat(),
    )
    response = post_shopify(client, json.dumps(payload).encode(), topic="customers/update", webhook_id="echo-1")
    assert response.status_code == 200
    drain(app_runtime)
    with app_runtime.session() as session:
        assert session.scalars(sa.select(WebhookEvent.status)).all() == [EventStatus.DONE]
    assert customer(wb_runtime, profile).first_name == "Bob"  # the update landed on this very profile

    report = write_back_shop(wb_runtime, shop_id)

    assert report.written == 0
    assert len(shopify.mutations) == mutations
    assert customer(wb_runtime, profile).written_at == written_at


def test_a_throttled_shopify_leaves_written_state_alone_and_the_next_run_writes(
    wb_runtime: Runtime, shopify: FakeShopify
) -> None:
    shop_id = shopify_shop(wb_runtime)
    shopify.add_customer(SHOP_DOMAIN, 1001)
    profile = returning_customer(wb_runtime, shop_id, "1001", orders=3, spent="500")
    # A Retry-After past the client's wait budget: it gives up at once instead of sleeping.
    shopify.queue_response(429, {"errors": "Throttled"}, {"Retry-After": "3600"})

    with pytest.raises(TransientPlatformError):
        write_back_shop(wb_runtime, shop_id)
    row = customer(wb_runtime, profile)
    assert (row.written_segment, row.written_at, row.writeback_error) == (None, None, None)

    assert write_back_shop(wb_runtime, shop_id).written == 1
    assert "pc-segment:vip" in shopify.tags(SHOP_DOMAIN, 1001)


def test_a_refused_customer_is_recorded_and_waits_out_the_backoff(wb_runtime: Runtime, shopify: FakeShopify) -> None:
    shop_id = shopify_shop(wb_runtime)
    shopify.add_customer(SHOP_DOMAIN, 1002)
    gone = returning_customer(wb_runtime, shop_id, "1001")  # Shopify no longer has this customer
    fine = returning_customer(wb_runtime, shop_id, "1002")

    report = write_back_shop(wb_runtime, shop_id)

    assert (report.written, report.refused) == (1, 1)
    row = customer(wb_runtime, gone)
    assert row.written_segment is None
    assert row.writeback_error is not None and "Resource not found" in row.writeback_error
    assert customer(wb_runtime, fine).written_segment == "returning"

    requests_before = len(shopify.requests)
    assert write_back_shop(wb_runtime, shop_id).refused == 0  # not asked again on the next run
    assert len(shopify.requests) == requests_before

    with wb_runtime.session() as session:  # the backoff has passed; meanwhile Shopify has the customer
        session.execute(
            sa.update(Customer)
            .where(Customer.id == gone)
            .values(written_at=utcnow() - REFUSAL_BACKOFF - dt.timedelta(minutes=1))
        )
    shopify.add_customer(SHOP_DOMAIN, 1001)
    assert write_back_shop(wb_runtime, shop_id).written == 1
    row = customer(wb_runtime, gone)
    assert (row.written_segment, row.writeback_error) == ("returning", None)


def test_a_refused_token_stops_the_run_without_blaming_customers(wb_runtime: Runtime, shopify: FakeShopify) -> None:
    shop_id = shopify_shop(wb_runtime)
    shopify.add_customer(SHOP_DOMAIN, 1001)
    profile = returning_customer(wb_runtime, shop_id, "1001")
    shopify.reset()
    shopify.add_shop(SHOP_DOMAIN, "shpat_rotated")  # our token is no longer the shop's

    report = write_back_shop(wb_runtime, shop_id)

    assert (report.written, report.refused, report.stopped) == (0, 0, "access refused")
    row = customer(wb_runtime, profile)
    assert (row.written_segment, row.writeback_error, row.written_at) == (None, None, None)


def test_an_uninstalled_shop_is_not_written(wb_runtime: Runtime, shopify: FakeShopify) -> None:
    shop_id = shopify_shop(wb_runtime)
    returning_customer(wb_runtime, shop_id, "1001")
    update_shop(wb_runtime, shop_id, state=ShopState.UNINSTALLED)

    assert write_back_shop(wb_runtime, shop_id).stopped == "shop not active"
    assert shopify.requests == []


def test_a_run_stops_at_its_limit_and_the_next_one_continues(wb_runtime: Runtime, shopify: FakeShopify) -> None:
    shop_id = shopify_shop(wb_runtime)
    for number in range(1001, 1006):
        shopify.add_customer(SHOP_DOMAIN, number)
        returning_customer(wb_runtime, shop_id, str(number))

    first = write_back_shop(wb_runtime, shop_id, batch_size=2, run_limit=3)
    assert (first.written, first.more) == (3, True)
    second = write_back_shop(wb_runtime, shop_id, batch_size=2, run_limit=3)
    assert (second.written, second.more) == (2, False)


# --- BigCommerce --------------------------------------------------------------------------------------


def add_bc_customers(runtime: Runtime, fake: FakeBigCommerce, shop_id: int, ids: range, **kw: object) -> list[int]:
    profiles = []
    for number in ids:
        fake.add_customer(STORE_HASH, sample_customer(number))
        profiles.append(returning_customer(runtime, shop_id, str(number), **kw))  # type: ignore[arg-type]
    return profiles


def test_bigcommerce_attributes_are_made_once_and_values_go_in_tens(
    wb_runtime: Runtime, fake_bc: SuiteBigCommerce
) -> None:
    fake, attributes = fake_bc, fake_bc.attributes
    shop_id = bc_shop(wb_runtime)
    profiles = add_bc_customers(wb_runtime, fake, shop_id, range(1, 13))

    assert write_back_shop(wb_runtime, shop_id).written == 12

    assert sorted(a["name"] for a in attributes.attributes(STORE_HASH)) == [BC_REP_ATTRIBUTE, BC_SEGMENT_ATTRIBUTE]
    assert all(a["type"] == "string" for a in attributes.attributes(STORE_HASH))
    assert [len(call) for call in attributes.upserts] == [10, 2]
    assert all(attributes.value(STORE_HASH, BC_SEGMENT_ATTRIBUTE, n) == "returning" for n in range(1, 13))
    assert attributes.value(STORE_HASH, BC_REP_ATTRIBUTE, 1) is None  # no rep yet: nothing to show
    with wb_runtime.session() as session:
        shop = session.get(Shop, shop_id)
        assert shop is not None and shop.bc_segment_attribute_id and shop.bc_rep_attribute_id

    # A later change reuses the remembered attributes: no lookup, no second definition.
    spend(wb_runtime, profiles[0], "500")
    fake.requests.clear()
    assert write_back_shop(wb_runtime, shop_id).written == 1
    assert fake.requests_to(r"/v3/customers/attributes$") == []
    assert len(attributes.created) == 2
    assert attributes.value(STORE_HASH, BC_SEGMENT_ATTRIBUTE, 1) == "vip"

    # And nothing at all when nothing changed.
    fake.requests.clear()
    assert write_back_shop(wb_runtime, shop_id).written == 0
    assert fake.requests == []


def test_bigcommerce_attributes_the_store_already_has_are_found_by_name(
    wb_runtime: Runtime, fake_bc: SuiteBigCommerce
) -> None:
    fake, attributes = fake_bc, fake_bc.attributes
    segment_id = attributes.add_attribute(STORE_HASH, BC_SEGMENT_ATTRIBUTE)
    attributes.add_attribute(STORE_HASH, "Personal Commerce segment (old)")
    shop_id = bc_shop(wb_runtime)
    add_bc_customers(wb_runtime, fake, shop_id, range(1, 2))

    write_back_shop(wb_runtime, shop_id)

    assert [a["name"] for a in attributes.created] == [BC_REP_ATTRIBUTE]
    with wb_runtime.session() as session:
        shop = session.get(Shop, shop_id)
        assert shop is not None and shop.bc_segment_attribute_id == segment_id


def test_a_bigcommerce_failure_mid_run_keeps_what_was_written_and_the_next_run_finishes(
    wb_runtime: Runtime, fake_bc: SuiteBigCommerce
) -> None:
    fake, attributes = fake_bc, fake_bc.attributes
    shop_id = bc_shop(wb_runtime)
    profiles = add_bc_customers(wb_runtime, fake, shop_id, range(1, 13))
    attributes.fail_upserts(None, 503)  # the first ten go through, the call for the last two fails

    with pytest.raises(TransientPlatformError):
        write_back_shop(wb_runtime, shop_id)
    assert [customer(wb_runtime, p).written_segment for p in profiles] == ["returning"] * 10 + [None] * 2

    attributes.upserts.clear()
    assert write_back_shop(wb_runtime, shop_id).written == 2
    assert [len(call) for call in attributes.upserts] == [2]


def test_a_bigcommerce_429_writes_nothing_and_the_next_run_writes(
    wb_runtime: Runtime, fake_bc: SuiteBigCommerce
) -> None:
    fake = fake_bc
    shop_id = bc_shop(wb_runtime)
    (profile,) = add_bc_customers(wb_runtime, fake, shop_id, range(1, 2))
    # Short quota windows: the store is paced until the window the 429 spent is over.
    fake.rate_limit_window_ms = fake.rate_limit_reset_ms = 200
    fake.queue_response("PUT", r"/attribute-values$", 429, {"X-Rate-Limit-Time-Reset-Ms": "200"})

    with pytest.raises(TransientPlatformError):
        write_back_shop(wb_runtime, shop_id)
    assert customer(wb_runtime, profile).written_segment is None

    assert write_back_shop(wb_runtime, shop_id).written == 1
    assert customer(wb_runtime, profile).written_segment == "returning"


def test_one_refused_bigcommerce_customer_does_not_hold_up_the_others(
    wb_runtime: Runtime, fake_bc: SuiteBigCommerce
) -> None:
    fake, attributes = fake_bc, fake_bc.attributes
    shop_id = bc_shop(wb_runtime)
    first, second = add_bc_customers(wb_runtime, fake, shop_id, range(1, 3))
    missing = returning_customer(wb_runtime, shop_id, "99")  # deleted in the store, and we missed the webhook

    report = write_back_shop(wb_runtime, shop_id)

    assert (report.written, report.refused) == (2, 1)
    assert customer(wb_runtime, first).written_segment == customer(wb_runtime, second).written_segment == "returning"
    row = customer(wb_runtime, missing)
    assert row.written_segment is None and row.writeback_error is not None and "422" in row.writeback_error
    upserts = len(attributes.upserts)
    assert write_back_shop(wb_runtime, shop_id).refused == 0  # backing off, not retried every run
    assert len(attributes.upserts) == upserts


def test_an_unassigned_rep_is_removed_from_bigcommerce(wb_runtime: Runtime, fake_bc: SuiteBigCommerce) -> None:
    fake, attributes = fake_bc, fake_bc.attributes
    shop_id = bc_shop(wb_runtime)
    rep_id = attributes.add_attribute(STORE_HASH, BC_REP_ATTRIBUTE)
    attributes.add_attribute(STORE_HASH, BC_SEGMENT_ATTRIBUTE)
    attributes.set_value(STORE_HASH, rep_id, 1, "old.rep@example.com")
    (profile,) = add_bc_customers(
        wb_runtime, fake, shop_id, range(1, 2), written_segment="returning", written_rep="old.rep@example.com"
    )

    assert write_back_shop(wb_runtime, shop_id).written == 1

    assert attributes.value(STORE_HASH, BC_REP_ATTRIBUTE, 1) is None
    assert attributes.upserts == []  # the segment was already right
    assert customer(wb_runtime, profile).written_rep is None


# --- jobs ---------------------------------------------------------------------------------------------


def test_the_cron_enqueues_one_job_per_active_shop_and_never_two(wb_runtime: Runtime) -> None:
    first = shopify_shop(wb_runtime)
    second = bc_shop(wb_runtime)
    add_shop(wb_runtime, "shopify", "gone-shop.myshopify.com", "shpat_gone", state=ShopState.UNINSTALLED)

    assert enqueue_all(wb_runtime) == [first, second]
    assert sorted(wb_runtime.queue(BULK).job_ids) == sorted([WRITE_BACK.job_id(first), WRITE_BACK.job_id(second)])
    assert enqueue_all(wb_runtime) == []  # their jobs are still waiting
    assert len(wb_runtime.queue(BULK).job_ids) == 2


def test_the_shop_job_writes_through_a_worker(wb_runtime: Runtime, fake_bc: SuiteBigCommerce) -> None:
    fake, attributes = fake_bc, fake_bc.attributes
    shop_id = bc_shop(wb_runtime)
    (profile,) = add_bc_customers(wb_runtime, fake, shop_id, range(1, 2))
    with job_environment(wb_runtime.settings):
        assert write_back_all() == 1
    drain(wb_runtime)

    assert customer(wb_runtime, profile).written_segment == "returning"
    assert attributes.value(STORE_HASH, BC_SEGMENT_ATTRIBUTE, 1) == "returning"
    assert enqueue_all(wb_runtime) == [shop_id]  # finished: the next cron run may enqueue it again


def test_the_customer_s_rep_is_written_and_a_new_rep_rewritten(wb_runtime: Runtime, shopify: FakeShopify) -> None:
    from integration.reps.books import assign
    from integration.reps.models import Rep
    from integration.reps.roster import RepInput, add_rep, hand_over, leave

    shop_id = shopify_shop(wb_runtime)
    shopify.add_customer(SHOP_DOMAIN, 1001)
    profile = returning_customer(wb_runtime, shop_id, "1001")
    with wb_runtime.session() as session:
        dana = add_rep(session, shop_id, RepInput("Dana", "dana@shop.example", "UTC")).id
        assign(session, profile)

    assert write_back_shop(wb_runtime, shop_id).written == 1
    assert profile_metafield(shopify, "1001") == {"segment": "returning", "rep": "dana@shop.example"}
    assert write_back_shop(wb_runtime, shop_id).written == 0  # nothing changed: nothing written

    with wb_runtime.session() as session:
        add_rep(session, shop_id, RepInput("Eli", "eli@shop.example", "UTC"))
        leaving = session.get(Rep, dana)
        assert leaving is not None
        leave(session, leaving)
        hand_over(session, dana)
    assert write_back_shop(wb_runtime, shop_id).written == 1
    assert profile_metafield(shopify, "1001") == {"segment": "returning", "rep": "eli@shop.example"}
    assert customer(wb_runtime, profile).written_rep == "eli@shop.example"
