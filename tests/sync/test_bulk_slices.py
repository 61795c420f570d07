"""Bulk work is bounded and never sits in front of webhooks.

A reconciliation (a new shop's backfill above all) runs in time slices on the bulk queue, each queuing
its continuation; what it finds is processed on the bulk queue too; a listing that repeats itself ends
with an error instead of a loop.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from rq import SimpleWorker

from integration.core.queues import BULK, EVENTS, batch_job_id
from integration.core.runtime import Runtime
from integration.events.dispatch import relay_once
from integration.events.intake import EventIntake
from integration.events.models import WebhookEvent
from integration.platforms.interfaces import Changed, ChangeFeed, ShopAccess
from integration.sync import reconcile
from integration.sync.reconcile import RepeatedPage, enqueue_reconciliations, reconcile_shop
from integration.sync.tasks import RECONCILE
from tests.events.test_dispatch import store
from tests.fakes.shopify_admin import FakeShopify
from tests.helpers import add_shop, job_environment
from tests.sync.test_reconcile import NOW, SHOP, TOKEN, order_fields, stamp
from tests.sync.test_reconcile import settings as settings

ORDERS = 600  # three pages of 250


@pytest.fixture
def big_shop(runtime: Runtime, fake_shopify: FakeShopify) -> int:
    fake_shopify.add_shop(SHOP, TOKEN)
    for n in range(ORDERS):
        updated = NOW - dt.timedelta(days=2, minutes=ORDERS - n)  # a minute apart, oldest first
        fake_shopify.add_order(SHOP, 50_000 + n, stamp(updated), **order_fields("4001", updated))
    return add_shop(runtime, "shopify", SHOP, TOKEN).id


def reconcile_events(runtime: Runtime) -> int:
    with runtime.session() as session:
        return session.scalar(sa.select(sa.func.count()).where(WebhookEvent.topic == "reconcile/order")) or 0


def run_one_bulk_job(runtime: Runtime) -> None:
    with job_environment(runtime.settings):
        SimpleWorker([runtime.queue(BULK)], connection=runtime.redis).work(
            burst=True, max_jobs=1, with_scheduler=False, logging_level="WARNING"
        )


def test_a_backfill_runs_in_slices_each_queuing_the_next(
    runtime: Runtime, big_shop: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconcile, "SLICE_SECONDS", 0.0)  # every page is past the deadline
    assert enqueue_reconciliations(runtime, [big_shop]) == [big_shop]
    first, second = RECONCILE.job_ids(big_shop)

    run_one_bulk_job(runtime)
    assert reconcile_events(runtime) == 250
    assert runtime.queue(BULK).job_ids == [second]  # the continuation, under the shop's other id
    assert enqueue_reconciliations(runtime) == []  # the cron sees the shop busy: no second run

    run_one_bulk_job(runtime)
    # It read from the cursor less the 10-minute overlap: 10 orders again (not stored twice), 240 new.
    assert reconcile_events(runtime) == 490
    assert runtime.queue(BULK).job_ids == [first]

    for _ in range(5):  # the rest, and a last slice that only re-reads the overlap and finishes
        if not runtime.queue(BULK).job_ids:
            break
        run_one_bulk_job(runtime)
    assert runtime.queue(BULK).job_ids == []
    assert reconcile_events(runtime) == ORDERS  # nothing missed, nothing stored twice


def test_without_a_deadline_a_run_reads_to_the_end(runtime: Runtime, big_shop: int) -> None:
    report = reconcile_shop(runtime, big_shop)  # the command line's backfill
    assert (report.more, report.stored) == (False, ORDERS)


def test_what_reconciliation_finds_is_processed_on_the_bulk_queue_and_webhooks_on_events(
    runtime: Runtime, intake: EventIntake, big_shop: int
) -> None:
    reconcile_shop(runtime, big_shop)
    (webhook,) = store(intake)
    assert relay_once(runtime, limit=10_000) == ORDERS + 1
    assert len(runtime.queue(BULK).job_ids) == ORDERS
    assert runtime.queue(EVENTS).job_ids == [batch_job_id([webhook])]


class RepeatingFeed:
    """A platform (or proxy) fault: every page is the first one again."""

    def __init__(self) -> None:
        self.pages_served = 0

    def pages(self, resource: str, since: dt.datetime) -> Iterator[list[Changed]]:
        while self.pages_served < 1000:
            self.pages_served += 1
            yield [Changed("1", NOW), Changed("2", NOW)]

    def topic(self, resource: str) -> str:
        return "reconcile/order"

    def body(self, resource: str, resource_id: str) -> bytes:
        return b'{"id": 1}'

    def close(self) -> None:
        pass


def test_a_listing_that_repeats_its_last_page_ends_with_an_error(runtime: Runtime, big_shop: int) -> None:
    feed = RepeatingFeed()

    def factory(_runtime: Runtime, _platform: str, _access: ShopAccess) -> ChangeFeed:
        return feed

    with pytest.raises(RepeatedPage):
        reconcile_shop(runtime, big_shop, feed_factory=factory)
    assert feed.pages_served == 2
