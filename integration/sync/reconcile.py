"""Reconciliation: find what a shop changed that no webhook told us about, and process it like a webhook.

Webhooks get lost (a platform gives up after its retries, BigCommerce deactivates hooks, an app is
down for a day), so each shop is swept on a schedule: list the orders and customers the platform
changed since the shop's cursor, skip those we already hold at that version, and store an event for
each of the rest (topic ``reconcile/order`` or ``reconcile/customer``, the platform's id as body). From
there the normal pipeline takes over (relay, worker, adapter, ordered upserts), so a reconciled order
is processed exactly as its webhook would have been, with the same retries and nothing lost.

Idempotent by construction: an event's dedupe key is the resource, its id and its ``updated_at``, so
a second run stores nothing new, and processing a stale one is a no-op (ordered upserts).

The cursor moves only after every page of a resource has been stored, to the moment the run started
(less nothing: the next run reads from ``cursor - OVERLAP`` to cover the platform's search index lag
and clock differences, and the dedupe key makes the overlap free).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.db import dialect_insert, utcnow
from integration.core.fanout import active_shop_ids, enqueue_continuation, enqueue_per_shop
from integration.core.runtime import Runtime
from integration.customers.models import Customer, Order
from integration.events.models import EventStatus, WebhookEvent, dedupe_key
from integration.platforms.interfaces import RESOURCES, Changed, ChangeFeed, ShopAccess
from integration.platforms.registry import connect
from integration.shops.access import shop_access
from integration.shops.models import Shop
from integration.sync.models import SyncCursor
from integration.sync.tasks import RECONCILE

log = logging.getLogger(__name__)

OVERLAP = dt.timedelta(minutes=10)
MAX_ERROR_LENGTH = 500
# A job reads pages for about this long, then stores how far it got and queues its continuation: a
# backfill of a large store takes many slices, and other shops' bulk work gets the worker in between.
SLICE_SECONDS = 10.0


class RepeatedPage(Exception):
    """The platform (or a proxy) answered the next page with the same items as the last: a fault that
    would otherwise loop for ever. The run stops with this error; the cursor stays where it was."""


# (resource, items listed so far, events stored so far): for the command line's progress lines.
Progress = Callable[[str, int, int], None]


@dataclass
class ResourceReport:
    resource: str
    since: dt.datetime
    found: int = 0
    stored: int = 0
    more: bool = False


@dataclass
class ReconcileReport:
    shop_id: int
    resources: list[ResourceReport] = field(default_factory=list)
    skipped: str | None = None  # why nothing was done (shop gone or not installed)
    more: bool = False  # the slice ran out of time: a continuation picks up from the cursor

    @property
    def stored(self) -> int:
        return sum(r.stored for r in self.resources)

    def as_dict(self) -> dict[str, object]:
        return {
            "shop_id": self.shop_id,
            "skipped": self.skipped,
            "more": self.more,
            "resources": {r.resource: {"found": r.found, "stored": r.stored} for r in self.resources},
        }


def feed_for(runtime: Runtime, platform: str, access: ShopAccess) -> ChangeFeed:
    # Through the registry: a BigCommerce feed spends the store's shared quota like every other job.
    return connect(runtime, platform, access).change_feed()


FeedFactory = Callable[[Runtime, str, ShopAccess], ChangeFeed]


def reconcile_shop(
    runtime: Runtime,
    shop_id: int,
    *,
    since: dt.datetime | None = None,
    progress: Progress | None = None,
    feed_factory: FeedFactory = feed_for,
    deadline: float | None = None,
) -> ReconcileReport:
    """Store an event for everything the shop changed that we do not hold yet.

    ``since`` (a backfill) reads from that moment instead of the cursor. Platform errors propagate
    (TransientPlatformError: the job is retried) after the cursor's ``last_error`` records them; the
    cursor itself is left where it was.

    With ``deadline`` (``time.monotonic()``), pages are read until it passes; the cursor then records how
    far they got and ``report.more`` says a continuation should follow.
    """
    report = ReconcileReport(shop_id)
    with runtime.session() as session:
        found = shop_access(session, runtime.cipher, shop_id, runtime=runtime)
        shop = session.get(Shop, shop_id)
        identifier = shop.identifier if shop is not None else ""
    if found is None:
        report.skipped = "shop is not installed"
        return report
    platform, access = found
    feed = feed_factory(runtime, platform, access)
    try:
        for resource in RESOURCES:
            resource_report = _reconcile_resource(
                runtime, shop_id, platform, identifier, feed, resource, since, progress, deadline
            )
            report.resources.append(resource_report)
            if resource_report.more:
                report.more = True
                break
    finally:
        feed.close()
    log.info("reconciled shop %s: %s", shop_id, report.as_dict()["resources"])
    return report


def _cursor(session: Session, shop_id: int, resource: str) -> SyncCursor:
    session.execute(
        dialect_insert(session)(SyncCursor).values(shop_id=shop_id, resource=resource).on_conflict_do_nothing()
    )
    return session.scalars(
        sa.select(SyncCursor).where(SyncCursor.shop_id == shop_id, SyncCursor.resource == resource)
    ).one()


def _reconcile_resource(
    runtime: Runtime,
    shop_id: int,
    platform: str,
    identifier: str,
    feed: ChangeFeed,
    resource: str,
    since: dt.datetime | None,
    progress: Progress | None,
    deadline: float | None = None,
) -> ResourceReport:
    started = utcnow()
    with runtime.session() as session:
        cursor = _cursor(session, shop_id, resource)
        cursor.started_at = started
        reached_before = cursor.cursor_at
        if since is not None:
            window = since
        elif cursor.cursor_at is not None:
            window = cursor.cursor_at - OVERLAP
        else:  # a new shop: its first run is the backfill
            window = started - dt.timedelta(days=runtime.settings.backfill_days)
    report = ResourceReport(resource, window)
    previous: list[Changed] | None = None
    try:
        for page in feed.pages(resource, window):
            if page and page == previous:
                raise RepeatedPage(f"{resource}: the platform answered the same page twice")
            previous = page
            report.found += len(page)
            with runtime.session() as session:
                report.stored += _store_page(session, shop_id, platform, identifier, feed, resource, page)
                # Pages come oldest first: everything changed before this page's newest item is stored.
                reached = max((item.updated_at for item in page), default=None)
                # Stop for a continuation only past the deadline *and* past where this run started: a slice
                # that only re-read the overlap reads on, so the last slice always reaches the end.
                if (
                    deadline is not None
                    and time.monotonic() >= deadline
                    and reached is not None
                    and (reached_before is None or reached > reached_before)
                ):
                    cursor = _cursor(session, shop_id, resource)
                    cursor.cursor_at = reached
                    cursor.last_found, cursor.last_stored = report.found, report.stored
                    report.more = True
            if progress is not None:
                progress(resource, report.found, report.stored)
            if report.more:
                return report
    except Exception as exc:
        with runtime.session() as session:
            cursor = _cursor(session, shop_id, resource)
            cursor.finished_at = utcnow()
            cursor.last_error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
        raise
    with runtime.session() as session:
        cursor = _cursor(session, shop_id, resource)
        if cursor.cursor_at is None or cursor.cursor_at < started:
            cursor.cursor_at = started
        cursor.finished_at = utcnow()
        cursor.last_error = None
        cursor.last_found, cursor.last_stored = report.found, report.stored
    return report


def _held_versions(session: Session, shop_id: int, resource: str, ids: Sequence[str]) -> dict[str, dt.datetime]:
    """platform id -> the change time we already hold, for the ids of one page."""
    query = (
        sa.select(Order.platform_order_id, Order.source_updated_at).where(
            Order.shop_id == shop_id, Order.platform_order_id.in_(ids)
        )
        if resource == "orders"
        else sa.select(Customer.platform_customer_id, Customer.source_updated_at).where(
            Customer.shop_id == shop_id, Customer.platform_customer_id.in_(ids)
        )
    )
    rows = session.execute(query)
    return {str(platform_id): held for platform_id, held in rows if platform_id is not None}


def _store_page(
    session: Session,
    shop_id: int,
    platform: str,
    identifier: str,
    feed: ChangeFeed,
    resource: str,
    page: Sequence[Changed],
) -> int:
    """Store an event for each item newer than what we hold; returns how many were new."""
    if not page:
        return 0
    held = _held_versions(session, shop_id, resource, [item.id for item in page])
    now = utcnow()
    rows = []
    for item in page:
        version = held.get(item.id)
        if version is not None and version >= item.updated_at:
            continue  # its webhook (or an earlier run) already brought this version
        stamp = item.updated_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        key = dedupe_key("reconcile", f"{resource}:{item.id}:{stamp}")
        rows.append(
            {
                "platform": platform,
                "shop": identifier,
                "topic": feed.topic(resource),
                "webhook_id": key,
                "dedupe_key": key,
                "triggered_at": item.updated_at,
                "body": feed.body(resource, item.id),
                "status": EventStatus.RECEIVED,
                "attempts": 0,
                "duplicates": 0,
                "received_at": now,
            }
        )
    if not rows:
        return 0
    inserted = session.execute(
        dialect_insert(session)(WebhookEvent)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["platform", "shop", "dedupe_key"])
        .returning(WebhookEvent.id)
    )
    return len(inserted.all())


def enqueue_reconciliations(runtime: Runtime, shop_ids: Sequence[int] | None = None) -> list[int]:
    """One reconciliation job per installed shop (or per shop given: a new shop's backfill starts at
    once); a shop whose last one is still waiting or running is left alone. Returns the shops enqueued."""
    if shop_ids is None:
        with runtime.session() as session:
            shop_ids = active_shop_ids(session)
    return enqueue_per_shop(runtime, RECONCILE, shop_ids)


def reconcile_slice(runtime: Runtime, shop_id: int, job_id: str | None) -> ReconcileReport:
    """One bounded run of the per-shop job: about ``SLICE_SECONDS`` of pages, then, if there is more, the
    continuation is queued (behind whatever else waits on the bulk queue) and this job ends."""
    report = reconcile_shop(runtime, shop_id, deadline=time.monotonic() + SLICE_SECONDS)
    if report.more:
        next_id = enqueue_continuation(runtime, RECONCILE, shop_id, job_id)
        log.info("reconciliation of shop %s continues as %s", shop_id, next_id)
    return report
