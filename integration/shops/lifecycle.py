"""A shop's lifecycle beyond registration: uninstall (and what a reinstall brings back)."""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from redis.exceptions import RedisError
from rq.job import Job

from integration.core.periodic import all_per_shop_job_ids
from integration.core.runtime import Runtime
from integration.platforms.interfaces import TransientPlatformError
from integration.shops.models import Shop
from integration.shops.registry import uninstall_shop

log = logging.getLogger(__name__)


def after_install(runtime: Runtime, shop_id: int) -> None:
    """What follows every install or reinstall, on both platforms: webhook subscriptions made now (the
    outcome recorded on the shop, as the scheduled check records it) and the first reconciliation (the
    backfill) queued. Neither failing undoes the install: the scheduled jobs catch up."""
    from integration.shops.subscriptions import check_shop
    from integration.sync.reconcile import enqueue_reconciliations

    try:
        check_shop(runtime, shop_id)
    except (TransientPlatformError, RedisError) as exc:
        log.warning("shop %s: subscriptions not made at install (%s)", shop_id, type(exc).__name__)
    try:
        enqueue_reconciliations(runtime, [shop_id])
    except RedisError as exc:
        log.warning("shop %s: first reconciliation not queued (%s)", shop_id, type(exc).__name__)


def cancel_shop_jobs(runtime: Runtime, shop_id: int) -> list[str]:
    """Cancel the shop's per-shop jobs that have not started (reconcile, write-back, product types);
    returns the ids cancelled. A running one finds the shop uninstalled and stops on its own."""
    ids = all_per_shop_job_ids(shop_id)
    cancelled = []
    for job in Job.fetch_many(ids, connection=runtime.redis):
        if job is not None and job.get_status(refresh=False) in ("queued", "scheduled", "deferred"):
            job.cancel()
            cancelled.append(job.id)
    return cancelled


def uninstall(runtime: Runtime, shop_id: int) -> bool:
    """The merchant removed the app: tokens destroyed, shop marked uninstalled, its scheduled jobs
    cancelled. Its data stays: a reinstall (``register_shop``) brings the same shop back. Returns False
    when it was already uninstalled (the platforms repeat uninstall notices)."""
    with runtime.session() as session:
        changed = uninstall_shop(session, shop_id)
    if changed:
        cancelled = cancel_shop_jobs(runtime, shop_id)
        log.info("shop %s uninstalled; cancelled %s", shop_id, cancelled or "no jobs")
    return changed


def uninstall_notice(runtime: Runtime, shop_id: int, notified_at: dt.datetime | None) -> bool:
    """An uninstall the platform notified (webhook, processed later): ignored when the shop was
    (re)installed after the notice was sent, since a retried or delayed notice must not remove a
    merchant who came back. Otherwise :func:`uninstall`."""
    if notified_at is not None:
        with runtime.session() as session:
            installed_at = session.scalar(sa.select(Shop.installed_at).where(Shop.id == shop_id))
        if installed_at is not None and installed_at > notified_at:
            log.info("shop %s: uninstall notice from %s predates its reinstall; ignored", shop_id, notified_at)
            return False
    return uninstall(runtime, shop_id)
