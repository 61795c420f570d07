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
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.db import utcnow
from integration.core.fanout import active_shop_ids, enqueue_per_shop
from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.customers.profiles import segment_expression
from integration.platforms.interfaces import ShopRefused, TransientPlatformError, WriteBackItem
from integration.platforms.registry import connect
from integration.shops.access import shop_access
from integration.sync.tasks import WRITE_BACK

log = logging.getLogger(__name__)

# Jobs by dotted path: integration/ never imports jobs/.

BATCH_SIZE = 50  # customers read per query (and recorded per transaction)
# Customers one job writes at most; the next cron run continues. Shopify spends ~30 points per
# customer at 100 points/s, so this keeps one job within minutes and one shop from holding a worker.
RUN_LIMIT = 500
REFUSAL_BACKOFF = dt.timedelta(hours=24)
MAX_ERROR_LENGTH = 2000


def rep_expression() -> sa.ColumnElement[str | None]:
    """The email of the customer's dedicated rep, as SQL (so selection stays in the database)."""
    from integration.reps.models import Rep

    return sa.select(Rep.email).where(Rep.id == Customer.rep_id).scalar_subquery()


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


def pending(
    session: Session,
    shop_id: int,
    *,
    after_id: int = 0,
    limit: int = BATCH_SIZE,
    now: dt.datetime | None = None,
) -> list[WriteBackItem]:
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
        WriteBackItem(
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
    connection = connect(runtime, platform, access)
    writer = connection.writer()
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
            outcomes: list[tuple[WriteBackItem, str | None]] = []
            try:
                outcomes.extend(writer.write(batch))
            finally:
                # Whatever happened next, the writes that went through are recorded: a retry must not
                # repeat them, and a refused customer must not be asked again next run.
                _record(runtime, outcomes)
                report.written += sum(1 for _item, error in outcomes if error is None)
                report.refused += sum(1 for _item, error in outcomes if error is not None)
    except ShopRefused as exc:
        log.warning("write-back for shop %s stopped: %s", shop_id, exc)
        report.stopped = "access refused"
    except TransientPlatformError:
        log.warning("write-back for shop %s interrupted after %d written; will retry", shop_id, report.written)
        raise
    finally:
        connection.close()
    if report.written or report.refused:
        log.info("write-back for shop %s: %s", shop_id, report.as_dict())
    return report


def _record(runtime: Runtime, outcomes: Sequence[tuple[WriteBackItem, str | None]]) -> None:
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


# ------------------------------------------------------------------------------------------ scheduling


def enqueue_all(runtime: Runtime) -> list[int]:
    """Enqueue a write-back job for every active shop that has none waiting or running; returns them."""
    with runtime.session() as session:
        shop_ids = active_shop_ids(session)
    return enqueue_per_shop(runtime, WRITE_BACK, shop_ids)
