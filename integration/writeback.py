"""Write-back: the merchant sees our enrichment (segment, dedicated rep) on the platform's own record.

Shopify gets a ``pc-segment:<segment>`` tag, through ``tagsAdd``/``tagsRemove`` only (``customerUpdate``
tags would replace the tags other apps and the merchant set), and one JSON metafield
``personal_commerce.profile`` = ``{"segment": ..., "rep": ...}``. BigCommerce gets two customer attributes,
defined once per store and upserted at most ten values per call.

A customer is written when what they are now (:func:`segment_expression`, :func:`rep_expression`) differs
from what we last wrote (``written_segment``/``written_rep``). That comparison is against our own record of
our own writes, never against anything a webhook says, and it is what keeps write-back from echoing: the
``customers/update`` the platform fires after our write changes neither side, so nothing is written again.

Failures:

* TransientPlatformError (429, 5xx, network): what was written so far is recorded, the rest of the run
  stops and the error propagates so the job is retried; nothing is lost because unwritten customers still
  differ from what was last written.
* A refusal about one customer (gone at the platform, a value refused): ``writeback_error`` holds the
  reason and ``written_at`` the time of that attempt; the customer is left alone for
  :data:`REFUSAL_BACKOFF` (refusals rarely heal within minutes, and retrying every run would spend the
  shop's API quota on the same "no"), then tried again.
* A refusal about the whole shop (401/403, scope missing): the run stops and no customer is marked, since
  the fault is not theirs; the next run tries again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from rq import Retry
from sqlalchemy.orm import Session

from integration.db import utcnow
from integration.fanout import active_shop_ids, enqueue_per_shop
from integration.models import Customer, Platform, Shop, ShopState
from integration.platforms import bigcommerce_attributes as attributes
from integration.platforms.base import NotFoundAtPlatform, ShopAccess, TransientPlatformError
from integration.platforms.bigcommerce import BigCommerceAPIError, BigCommerceClient
from integration.platforms.clients import bigcommerce_client, shop_access, shopify_graphql
from integration.platforms.shopify_api import ShopifyAPIError, ShopifyGraphQL
from integration.profiles import segment_expression
from integration.queues import EVENTS, WRITE_BACK_SHOP
from integration.runtime import Runtime

log = logging.getLogger(__name__)

# Jobs by dotted path: integration/ never imports jobs/.

BATCH_SIZE = 50  # customers read per query (and recorded per transaction)
# Customers one job writes at most; the next cron run continues. Shopify spends ~30 points per
# customer at 100 points/s, so this keeps one job within minutes and one shop from holding a worker.
RUN_LIMIT = 500
SHOP_JOB_TIMEOUT = 900  # seconds
REFUSAL_BACKOFF = dt.timedelta(hours=24)
MAX_ERROR_LENGTH = 2000

SEGMENT_TAG_PREFIX = "pc-segment:"
# Every segment the app has: a segment change removes all the others' tags in the same single call,
# which also cleans up a tag left behind by a write that succeeded but was never recorded.
SEGMENTS = ("prospect", "new", "returning", "vip", "lapsed")
METAFIELD_NAMESPACE = "personal_commerce"
METAFIELD_KEY = "profile"
METAFIELD_TYPE = "json"
BC_SEGMENT_ATTRIBUTE = "Personal Commerce segment"
BC_REP_ATTRIBUTE = "Personal Commerce rep"

# A job in one of these states will run (or is running): the cron must not add a second one.
SHOP_JOB_RETRY_INTERVALS = (60, 300, 900)


def rep_expression() -> sa.ColumnElement[str | None]:
    """The email of the customer's dedicated rep, as SQL (so selection stays in the database).

    There is no rep yet: the dedicated-rep issue fills this in. Until then every customer has none, and
    write-back already carries and compares the rep so that issue only has to change this function.
    """
    return sa.cast(sa.null(), sa.String(320))


def segment_tag(segment: str) -> str:
    return f"{SEGMENT_TAG_PREFIX}{segment}"


@dataclass(frozen=True)
class Pending:
    """One customer whose platform record is behind: what to write, and what was written before."""

    customer_id: int
    platform_customer_id: str
    segment: str
    rep: str | None
    written_segment: str | None
    written_rep: str | None


@dataclass
class WritebackReport:
    written: int = 0
    refused: int = 0
    # Why the run ended early ("access refused", "shop not active"), None when it did not.
    stopped: str | None = None
    # True when the run limit was reached with customers still waiting (the next run continues).
    more: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"written": self.written, "refused": self.refused, "stopped": self.stopped, "more": self.more}


class _ShopRefused(Exception):
    """The platform refuses this shop's token (401/403, missing scope): no customer is at fault."""


def pending(
    session: Session,
    shop_id: int,
    *,
    after_id: int = 0,
    limit: int = BATCH_SIZE,
    now: dt.datetime | None = None,
) -> list[Pending]:
    """Customers of the shop whose record differs from what we last wrote, by id after ``after_id``."""
    now = now or utcnow()
    segment = segment_expression()
    rep = rep_expression()
    rows = session.execute(
        sa.select(
            Customer.id,
            Customer.platform_customer_id,
            segment.label("segment_now"),
            rep.label("rep_now"),
            Customer.written_segment,
            Customer.written_rep,
        )
        .where(
            Customer.shop_id == shop_id,
            Customer.id > after_id,
            Customer.platform_customer_id.is_not(None),
            Customer.deleted_at.is_(None),
            sa.or_(
                segment.is_distinct_from(Customer.written_segment),
                rep.is_distinct_from(Customer.written_rep),
            ),
            # A refused customer waits out the backoff (written_at is then the refused attempt).
            sa.or_(
                Customer.writeback_error.is_(None),
                Customer.written_at.is_(None),
                Customer.written_at < now - REFUSAL_BACKOFF,
            ),
        )
        .order_by(Customer.id)
        .limit(limit)
    )
    return [
        Pending(
            customer_id=int(row.id),
            platform_customer_id=str(row.platform_customer_id),
            segment=str(row.segment_now),
            rep=row.rep_now,
            written_segment=row.written_segment,
            written_rep=row.written_rep,
        )
        for row in rows
    ]


def write_back_shop(
    runtime: Runtime, shop_id: int, *, batch_size: int = BATCH_SIZE, run_limit: int = RUN_LIMIT
) -> WritebackReport:
    """Write every customer of the shop whose platform record is behind (up to ``run_limit``).

    Raises TransientPlatformError, after recording what was written, when the platform is busy or down.
    """
    report = WritebackReport()
    with runtime.session() as session:
        found = shop_access(session, runtime.cipher, shop_id, runtime=runtime)
    if found is None:
        report.stopped = "shop not active"
        return report
    platform, access = found
    writer = _writer(runtime, platform, access)
    after = 0
    try:
        while True:
            room = run_limit - report.written - report.refused
            with runtime.session() as session:
                batch = pending(session, shop_id, after_id=after, limit=min(batch_size, max(room, 0) + 1))
            if not batch:
                break
            if room <= 0:
                report.more = True
                break
            batch = batch[:room]
            after = batch[-1].customer_id
            outcomes: list[tuple[Pending, str | None]] = []
            try:
                outcomes.extend(writer.write(batch))
            finally:
                # Whatever happened next, the writes that went through are recorded: a retry must not
                # repeat them, and a refused customer must not be asked again next run.
                _record(runtime, outcomes)
                report.written += sum(1 for _item, error in outcomes if error is None)
                report.refused += sum(1 for _item, error in outcomes if error is not None)
    except _ShopRefused as exc:
        log.warning("write-back for shop %s stopped: %s", shop_id, exc)
        report.stopped = "access refused"
    except TransientPlatformError:
        log.warning("write-back for shop %s interrupted after %d written; will retry", shop_id, report.written)
        raise
    finally:
        writer.close()
    if report.written or report.refused:
        log.info("write-back for shop %s: %s", shop_id, report.as_dict())
    return report


def _record(runtime: Runtime, outcomes: Sequence[tuple[Pending, str | None]]) -> None:
    if not outcomes:
        return
    now = utcnow()
    with runtime.session() as session:
        for item, error in outcomes:
            if error is None:
                values: dict[str, object] = {
                    "written_segment": item.segment,
                    "written_rep": item.rep,
                    "written_at": now,
                    "writeback_error": None,
                }
            else:
                # written_* stay what the platform really holds; written_at dates the refusal (backoff).
                values = {"writeback_error": error[:MAX_ERROR_LENGTH], "written_at": now}
            session.execute(sa.update(Customer).where(Customer.id == item.customer_id).values(**values))


# ------------------------------------------------------------------------------------------ writers


class _Writer:
    def write(self, batch: Sequence[Pending]) -> Iterator[tuple[Pending, str | None]]:
        """Write the batch, yielding (customer, None) per success and (customer, reason) per refusal.

        Raises TransientPlatformError and _ShopRefused; what was yielded before stands.
        """
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def _writer(runtime: Runtime, platform: str, access: ShopAccess) -> _Writer:
    if platform == Platform.SHOPIFY:
        return _ShopifyWriter(shopify_graphql(runtime.settings, access))
    if platform == Platform.BIGCOMMERCE:
        # With Redis the store's quota and concurrency cap are shared with every other worker's calls.
        client = bigcommerce_client(runtime.settings, access, redis=runtime.redis)
        return _BigCommerceWriter(runtime, access.shop_id, client)
    raise ValueError(f"no write-back for platform {platform!r}")


class _ShopifyWriter(_Writer):
    def __init__(self, client: ShopifyGraphQL) -> None:
        self.client = client

    def close(self) -> None:
        self.client.close()

    def write(self, batch: Sequence[Pending]) -> Iterator[tuple[Pending, str | None]]:
        for item in batch:
            try:
                self._write_one(item)
            except ShopifyAPIError as exc:
                if exc.status in (401, 403) or "ACCESS_DENIED" in exc.codes:
                    raise _ShopRefused(str(exc)) from exc
                yield item, str(exc)
            except (NotFoundAtPlatform, ValueError) as exc:  # ValueError: not a Shopify customer id
                yield item, f"{type(exc).__name__}: {exc}"
            else:
                yield item, None

    def _write_one(self, item: Pending) -> None:
        customer = item.platform_customer_id
        if item.segment != item.written_segment:
            # Add before removing: the customer is never without a segment tag in between.
            self.client.tags_add(customer, [segment_tag(item.segment)])
            if item.written_segment is not None:
                others = {*SEGMENTS, item.written_segment} - {item.segment}
                self.client.tags_remove(customer, sorted(segment_tag(s) for s in others))
        profile = json.dumps({"segment": item.segment, "rep": item.rep}, separators=(",", ":"))
        self.client.metafield_set(customer, METAFIELD_NAMESPACE, METAFIELD_KEY, METAFIELD_TYPE, profile)


class _BigCommerceWriter(_Writer):
    def __init__(self, runtime: Runtime, shop_id: int, client: BigCommerceClient) -> None:
        self.runtime = runtime
        self.shop_id = shop_id
        self.client = client
        self._ids: tuple[int, int] | None = None

    def close(self) -> None:
        self.client.close()

    def write(self, batch: Sequence[Pending]) -> Iterator[tuple[Pending, str | None]]:
        try:
            segment_id, rep_id = self._attribute_ids()
        except BigCommerceAPIError as exc:
            raise _ShopRefused(str(exc)) from exc
        valid = []
        for item in batch:
            if attributes.valid_customer_id(item.platform_customer_id):
                valid.append(item)
            else:
                yield item, "not a BigCommerce customer id"
        for chunk in _chunks(valid, lambda item: len(_values(item, segment_id, rep_id))):
            try:
                self._write(chunk, segment_id, rep_id)
            except (BigCommerceAPIError, NotFoundAtPlatform) as exc:
                _raise_if_shop_refused(exc)
                if len(chunk) == 1:
                    yield chunk[0], str(exc)
                    continue
                # One refused value fails the whole call: write them one by one to find whose it is.
                for item in chunk:
                    try:
                        self._write([item], segment_id, rep_id)
                    except (BigCommerceAPIError, NotFoundAtPlatform) as one:
                        _raise_if_shop_refused(one)
                        yield item, str(one)
                    else:
                        yield item, None
            else:
                for item in chunk:
                    yield item, None

    def _write(self, chunk: Sequence[Pending], segment_id: int, rep_id: int) -> None:
        values = [value for item in chunk for value in _values(item, segment_id, rep_id)]
        attributes.upsert_values(self.client, values)
        # An unassigned rep is removed (BigCommerce has no empty value to upsert).
        cleared = [int(item.platform_customer_id) for item in chunk if item.rep is None and item.written_rep]
        attributes.delete_values(self.client, rep_id, cleared)

    def _attribute_ids(self) -> tuple[int, int]:
        """The store's two attributes: remembered on the shop row, else found by name or created once."""
        if self._ids is not None:
            return self._ids
        with self.runtime.session() as session:
            shop = session.get(Shop, self.shop_id)
            stored = (shop.bc_segment_attribute_id, shop.bc_rep_attribute_id) if shop else (None, None)
        segment_id = stored[0] or attributes.ensure_attribute(self.client, BC_SEGMENT_ATTRIBUTE)
        rep_id = stored[1] or attributes.ensure_attribute(self.client, BC_REP_ATTRIBUTE)
        if (segment_id, rep_id) != stored:
            with self.runtime.session() as session:
                session.execute(
                    sa.update(Shop)
                    .where(Shop.id == self.shop_id, Shop.state == ShopState.ACTIVE)
                    .values(bc_segment_attribute_id=segment_id, bc_rep_attribute_id=rep_id)
                )
        self._ids = (segment_id, rep_id)
        return self._ids


def _raise_if_shop_refused(exc: Exception) -> None:
    if isinstance(exc, BigCommerceAPIError) and exc.status in (401, 403):
        raise _ShopRefused(str(exc)) from exc


def _values(item: Pending, segment_id: int, rep_id: int) -> list[attributes.AttributeValue]:
    """Only what changed: an unchanged value is not sent again."""
    customer = int(item.platform_customer_id)
    values = []
    if item.segment != item.written_segment:
        values.append(attributes.AttributeValue(segment_id, customer, item.segment))
    if item.rep is not None and item.rep != item.written_rep:
        values.append(attributes.AttributeValue(rep_id, customer, item.rep))
    return values


def _chunks(batch: Sequence[Pending], size: Callable[[Pending], int]) -> Iterator[list[Pending]]:
    """Customers grouped so that one upsert carries at most ten values, a customer's never split."""
    chunk: list[Pending] = []
    used = 0
    for item in batch:
        needed = size(item)
        if chunk and used + needed > attributes.MAX_VALUES_PER_CALL:
            yield chunk
            chunk, used = [], 0
        chunk.append(item)
        used += needed
    if chunk:
        yield chunk


# ------------------------------------------------------------------------------------------ scheduling


JOB_PREFIX = "writeback-shop"


def shop_job_id(shop_id: int) -> str:
    """One write-back job per shop at a time: the cron skips a shop whose job is still alive."""
    return f"{JOB_PREFIX}-{shop_id}"


def enqueue_all(runtime: Runtime) -> list[int]:
    """Enqueue a write-back job for every active shop that has none waiting or running; returns them."""
    with runtime.session() as session:
        shop_ids = active_shop_ids(session)
    return enqueue_per_shop(
        runtime,
        WRITE_BACK_SHOP,
        shop_ids,
        job_prefix=JOB_PREFIX,
        timeout=SHOP_JOB_TIMEOUT,
        retry=Retry(max=len(SHOP_JOB_RETRY_INTERVALS), interval=list(SHOP_JOB_RETRY_INTERVALS)),
        # After maintenance: write-back is never urgent and must not hold up the sweep.
        queue_name=EVENTS,
    )
