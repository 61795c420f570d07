"""Product types for "the types a customer bought most": fetched from the platform once per product.

Neither platform's order webhook says what kind of product a line is, so each product a shop's customers
bought is looked up in the platform catalogue once and kept in ``products`` (type and title). What
still needs a look-up is every product id on the shop's order lines without a fetched ``products`` row.
A product that has no type, or that the merchant deleted, still gets a row (``fetched_at`` set, no
type): otherwise it would be asked for again on every run, forever.

On BigCommerce, which has no product type, the "type" is the name of the product's first category
(see :mod:`integration.platforms.catalogue`).

Work goes in batches of up to 250 products, each written in its own transaction only after everything
the batch needs was fetched: a TransientPlatformError stops the run with the finished batches kept and
nothing of the failed one written, and RQ (or the next cron run) carries on from there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.db import dialect_insert, utcnow
from integration.core.fanout import active_shop_ids, enqueue_per_shop
from integration.core.runtime import Runtime
from integration.customers.models import Order, OrderLine, Product
from integration.platforms.catalogue import (
    MAX_BATCH,
    PRODUCT_ID_RE,
    CatalogueProduct,
)
from integration.platforms.interfaces import BadPayload, ShopAccess
from integration.platforms.registry import connect
from integration.shops.access import shop_access
from integration.sync.tasks import PRODUCT_TYPES

log = logging.getLogger(__name__)

# One run handles at most this many batches (10,000 products) so a first run on a big shop cannot
# hold a worker for long; the next run (10 minutes later) takes the rest.
MAX_BATCHES_PER_RUN = 40

Fetch = Callable[[Sequence[str]], Mapping[str, CatalogueProduct]]


@dataclass(frozen=True)
class CatalogueReport:
    shop_id: int
    fetched: int = 0  # products given a row this run
    typed: int = 0  # of those, with a type
    gone: int = 0  # of those, no longer at the platform
    skipped: str | None = None  # why nothing was asked, when nothing was

    def as_dict(self) -> dict[str, Any]:
        return {
            "shop_id": self.shop_id,
            "fetched": self.fetched,
            "typed": self.typed,
            "gone": self.gone,
            "skipped": self.skipped,
        }


def missing_product_ids(session: Session, shop_id: int, limit: int | None = None) -> list[str]:
    """Product ids on the shop's order lines with no fetched ``products`` row, in id order.

    Order lines rather than customer_products: their ``product_id`` is always a platform id, while a
    customer_products key is a title when the line had none. This reads the shop's order lines once
    per run (orders by the (shop_id, ...) index, lines by order_id); each id found is fetched once.
    """
    known = (
        sa.select(Product.id)
        .where(
            Product.shop_id == shop_id,
            Product.platform_product_id == OrderLine.product_id,
            Product.fetched_at.is_not(None),
        )
        .exists()
    )
    query = (
        sa.select(OrderLine.product_id)
        .distinct()
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.shop_id == shop_id, OrderLine.product_id.is_not(None), ~known)
        .order_by(OrderLine.product_id)
        .limit(limit)
    )
    return [product_id for product_id in session.scalars(query) if product_id]


def record_products(
    session: Session, shop_id: int, product_ids: Sequence[str], found: Mapping[str, CatalogueProduct]
) -> None:
    """Upsert one row per id: what the platform said, or "fetched, nothing there" for ids it lacks."""
    if not product_ids:
        return
    now = utcnow()
    rows = []
    for product_id in product_ids:
        product = found.get(product_id)
        rows.append(
            {
                "shop_id": shop_id,
                "platform_product_id": product_id,
                "title": product.title if product else None,
                "product_type": product.product_type if product else None,
                "fetched_at": now,
            }
        )
    stmt = dialect_insert(session)(Product)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["shop_id", "platform_product_id"],
            set_={
                # A deleted product keeps the title we may have had for it.
                "title": sa.func.coalesce(stmt.excluded.title, Product.title),
                "product_type": stmt.excluded.product_type,
                "fetched_at": stmt.excluded.fetched_at,
            },
        ),
        rows,
    )


def _fetcher(
    runtime: Runtime, platform: str, access: ShopAccess, http: requests.Session | None
) -> tuple[Fetch, Callable[[], None]]:
    connection = connect(runtime, platform, access, http=http)
    return connection.products, connection.close


def fetch_product_types(
    runtime: Runtime,
    shop_id: int,
    *,
    http: requests.Session | None = None,
    batch_size: int = MAX_BATCH,
    max_batches: int = MAX_BATCHES_PER_RUN,
) -> CatalogueReport:
    """Fetch and store the types of the shop's bought products not looked up yet.

    Raises TransientPlatformError (batches before it are kept), and the clients' permanent errors
    (ShopifyAPIError, BigCommerceAPIError: e.g. the products read scope is missing), which fail the
    job where ops see it; no row is written for a batch that failed.
    """
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")
    with runtime.session() as session:
        found_shop = shop_access(session, runtime.cipher, shop_id, runtime=runtime)
        if found_shop is None:
            return CatalogueReport(shop_id, skipped="shop gone or not active")
        missing = missing_product_ids(session, shop_id, limit=batch_size * max_batches)
    if not missing:
        return CatalogueReport(shop_id)
    platform, access = found_shop
    try:
        fetch, close = _fetcher(runtime, platform, access, http)
    except BadPayload as exc:  # no token or a malformed identifier: nothing to call with
        log.warning("product types for shop %s: %s", shop_id, exc)
        return CatalogueReport(shop_id, skipped=str(exc))
    fetched = typed = gone = 0
    try:
        for start in range(0, len(missing), batch_size):
            batch = missing[start : start + batch_size]
            # Anything but a numeric id cannot be a product the platform knows: record it as
            # fetched-without-type rather than send it (or select it again next run).
            callable_ids = [i for i in batch if PRODUCT_ID_RE.fullmatch(i)]
            found = fetch(callable_ids) if callable_ids else {}
            with runtime.session() as session:
                record_products(session, shop_id, batch, found)
            fetched += len(batch)
            typed += sum(1 for p in found.values() if p.product_type)
            gone += len(batch) - len(found)
    finally:
        close()
    log.info("product types for shop %s: %d fetched, %d typed, %d gone", shop_id, fetched, typed, gone)
    return CatalogueReport(shop_id, fetched=fetched, typed=typed, gone=gone)


def enqueue_product_type_jobs(runtime: Runtime) -> int:
    """Enqueue one ``fetch_product_types`` job per active shop (the cron fan-out); returns how many.

    The job id is the shop's, so a shop whose job is still waiting, scheduled for a retry or running
    gets no second one.
    """
    with runtime.session() as session:
        shop_ids = active_shop_ids(session)
    enqueued = enqueue_per_shop(runtime, PRODUCT_TYPES, shop_ids)
    return len(enqueued)
