"""A shop's lifecycle beyond registration: uninstall (and what a reinstall brings back).

Uninstalling destroys the shop's tokens, so a notice that asks for it (Shopify's ``app/uninstalled``,
BigCommerce's uninstall callback or hook) is not taken on its word: the platform is asked first. A
platform revokes the app's token when the app is uninstalled, so a stored token it still accepts means
the app is installed and the notice is refused (a forgery, a replay, a notice from before a reinstall);
a 401 (404: no such shop) confirms it.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from dataclasses import dataclass

from redis.exceptions import RedisError
from rq.job import Job

from integration.core.periodic import all_per_shop_job_ids
from integration.core.runtime import Runtime
from integration.platforms.interfaces import TransientPlatformError
from integration.platforms.registry import connect
from integration.shops.models import Shop, ShopState
from integration.shops.registry import uninstall_shop
from integration.shops.tokens import ShopNotInstalled, TokenRefreshFailed, fresh_access

log = logging.getLogger(__name__)


def after_install(runtime: Runtime, shop_id: int) -> None:
    """What follows every install or reinstall (callback, token exchange, BigCommerce auth): webhook
    subscriptions made and the shop's facts read now (the scheduled check's own steps, its outcome
    recorded on the shop), so the shop's zone is known before the backfill's first customer, then the
    first reconciliation (the backfill) queued. Neither failing undoes the install: the scheduled jobs
    catch up."""
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


def uninstall(runtime: Runtime, shop_id: int, *, expected_token_enc: str | None = None) -> bool:
    """The merchant removed the app: tokens destroyed, shop marked uninstalled, its scheduled jobs
    cancelled. Its data stays: a reinstall (``register_shop``) brings the same shop back. Returns False
    when it was already uninstalled (the platforms repeat uninstall notices). Unconfirmed: notices go
    through :func:`confirm_uninstall`."""
    with runtime.session() as session:
        changed = uninstall_shop(session, shop_id, expected_token_enc=expected_token_enc)
    if changed:
        cancelled = cancel_shop_jobs(runtime, shop_id)
        log.info("shop %s uninstalled; cancelled %s", shop_id, cancelled or "no jobs")
    return changed


class Verdict(enum.StrEnum):
    UNINSTALLED = "uninstalled"
    ALREADY = "already"  # already uninstalled (or unknown): nothing to do
    STALE = "stale"  # sent before the shop's last install
    STILL_INSTALLED = "still_installed"  # the platform still accepts the shop's token


@dataclass(frozen=True)
class UninstallOutcome:
    verdict: Verdict
    reason: str  # for the event's last_error, the callback's answer and the log: never a token or value

    @property
    def refused(self) -> bool:
        return self.verdict in (Verdict.STALE, Verdict.STILL_INSTALLED)


STALE_REASON = "uninstall notice sent before the shop's last install; ignored"
# The notice's time is the platform's clock, the install's ours: a notice counts as older than the
# install only by more than this. Within it, the token check decides (a reinstall's token works).
CLOCK_SKEW = dt.timedelta(seconds=60)
STILL_INSTALLED_REASON = (
    "uninstall refused: the platform still accepts the shop's access token, so the app is installed"
)


def _installed(runtime: Runtime, shop_id: int) -> Shop | None:
    with runtime.session() as session:
        shop = session.get(Shop, shop_id, populate_existing=True)
        if shop is None or shop.state != ShopState.ACTIVE:
            return None
        session.expunge(shop)
        return shop


def confirm_uninstall(runtime: Runtime, shop_id: int, notified_at: dt.datetime | None) -> UninstallOutcome:
    """An uninstall notice sent at ``notified_at``: applied only when it is newer than the shop's last
    install and the platform no longer accepts the shop's token.

    Raises TransientPlatformError when the platform cannot be asked now (the caller retries).
    """
    shop = _installed(runtime, shop_id)
    if shop is None:
        return UninstallOutcome(Verdict.ALREADY, "the shop is already uninstalled")
    if notified_at is not None and shop.installed_at is not None and notified_at + CLOCK_SKEW < shop.installed_at:
        log.info("shop %s: uninstall notice from %s predates its last install; ignored", shop_id, notified_at)
        return UninstallOutcome(Verdict.STALE, STALE_REASON)
    try:
        # An expired Shopify token is refused too, and proves nothing: refresh it first.
        access = fresh_access(runtime, shop_id)
    except ShopNotInstalled:
        return UninstallOutcome(Verdict.ALREADY, "the shop is already uninstalled")
    except TokenRefreshFailed:
        access = None  # the platform refused our refresh token: it has no grant left to revoke
    token_enc = None
    if access is not None and access.access_token:
        current = _installed(runtime, shop_id)
        token_enc = current.access_token_enc if current is not None else None
        connection = connect(runtime, shop.platform, access)
        try:
            accepted = connection.token_accepted()
        finally:
            connection.close()
        if accepted:
            log.warning("shop %s: %s", shop_id, STILL_INSTALLED_REASON)
            return UninstallOutcome(Verdict.STILL_INSTALLED, STILL_INSTALLED_REASON)
    if uninstall(runtime, shop_id, expected_token_enc=token_enc):
        return UninstallOutcome(Verdict.UNINSTALLED, "uninstalled: the platform no longer accepts the shop's token")
    if _installed(runtime, shop_id) is not None:  # a new token (reinstall) arrived during the check
        return UninstallOutcome(Verdict.STALE, "the shop was reinstalled while the notice was checked; ignored")
    return UninstallOutcome(Verdict.ALREADY, "the shop is already uninstalled")
