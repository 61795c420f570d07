"""A store's backfill never holds up webhooks: measured as a merchant installing would meet it.

Before the bulk queue, one worker served the maintenance queue first, and a new store's backfill ran
there: thousands of webhook events waited minutes with nothing executing. Now the backfill runs in slices
on the bulk queue in a worker process of its own, and what it finds is processed there too, so webhooks
arriving meanwhile are done by the events worker while the backfill is still under way.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from integration.core.config import Settings
from integration.core.runtime import Runtime
from integration.events.dispatch import relay_once
from integration.events.intake import EventIntake
from integration.events.models import EventStatus, WebhookEvent
from integration.sync.reconcile import enqueue_reconciliations
from tests.fakes.shopify_admin import FakeShopify
from tests.helpers import add_shop, crash, fixture_bytes, start_worker, store_shopify_event, wait_until
from tests.sync.test_reconcile import NOW, SHOP, TOKEN, order_fields, stamp

ORDERS = 2000  # eight pages; each found order is one read-back on the bulk worker
WEBHOOKS = 20

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(settings: Settings, fake_shopify: FakeShopify) -> Settings:
    return settings.replace(shopify_admin_url=fake_shopify.admin_url_template)


@pytest.fixture
def workers(settings: Settings) -> Iterator[list[subprocess.Popen[bytes]]]:
    started = [start_worker(settings, queues="events"), start_worker(settings, queues="bulk")]
    yield started
    for process in started:
        crash(process)  # whatever the bulk worker still has is of no interest to the next test


def counts(runtime: Runtime, webhook_ids: list[int]) -> tuple[int, int, int]:
    """(webhooks done, reconcile events stored, reconcile events done)."""
    with runtime.session() as session:
        done = session.scalar(
            sa.select(sa.func.count()).where(WebhookEvent.id.in_(webhook_ids), WebhookEvent.status == EventStatus.DONE)
        )
        stored, finished = session.execute(
            sa.select(
                sa.func.count(),
                sa.func.count().filter(WebhookEvent.status == EventStatus.DONE),
            ).where(WebhookEvent.topic == "reconcile/order")
        ).one()
    return int(done or 0), int(stored), int(finished)


def test_webhooks_are_done_while_a_large_backfill_is_still_running(
    runtime: Runtime, intake: EventIntake, fake_shopify: FakeShopify, workers: list[subprocess.Popen[bytes]]
) -> None:
    fake_shopify.add_shop(SHOP, TOKEN)
    for n in range(ORDERS):
        updated = NOW - dt.timedelta(days=3, seconds=ORDERS - n)
        fake_shopify.add_order(SHOP, 70_000 + n, stamp(updated), **order_fields("4001", updated))
    shop_id = add_shop(runtime, "shopify", SHOP, TOKEN).id
    assert enqueue_reconciliations(runtime, [shop_id]) == [shop_id]  # as an install queues the backfill

    def backfill_found_some() -> bool:
        relay_once(runtime)
        return counts(runtime, [])[1] > 0

    wait_until(backfill_found_some, timeout=60, message="the backfill to find orders")

    template = json.loads(fixture_bytes("shopify/shopify_orders_create.json"))
    webhook_ids = []
    for n in range(WEBHOOKS):
        order = {**template, "id": 9_000_000 + n, "updated_at": stamp(NOW)}
        webhook_ids.append(
            store_shopify_event(intake, json.dumps(order).encode(), webhook_id=f"bulk-beside-{n}", shop=SHOP)
        )

    def webhooks_done() -> bool:
        relay_once(runtime)
        return counts(runtime, webhook_ids)[0] == WEBHOOKS

    wait_until(webhooks_done, timeout=60, message="the webhooks to be processed")
    _done, stored, finished = counts(runtime, webhook_ids)
    # The webhooks did not wait for the backfill: most of what it found is still to be processed.
    assert finished < stored or stored < ORDERS, (finished, stored)
    assert finished < ORDERS
