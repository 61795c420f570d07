"""Webhook subscription health: each shop's subscriptions checked against what the product needs.

Platforms drop subscriptions on their own: Shopify deletes API-created subscriptions after repeated
delivery failures; BigCommerce deactivates hooks after 48 h of failures and after 90 days without
events. A scheduled job (``subscriptions_interval``, default 6 h) therefore lists every active shop's
subscriptions (Shopify ``webhookSubscriptions``, BigCommerce ``/v3/hooks`` with ``is_active``), re-creates
or re-activates what is missing, and records what it found on the shop (``subscriptions_checked_at``,
``subscriptions_report``) for ops: ``flask --app integration shops list`` shows it.

The same check reads the shop's own facts (name, time zone, currency, owner email, primary domain:
``Connection.shop_facts``) and keeps them on the shop (``integration.shops.facts``), so a zone the
merchant changes on the platform reaches the customers who use the shop's zone within one interval.
Install runs this check too, so the facts are there before the backfill's first customer.

The shop's token is refreshed first when it is about to expire (Shopify's expiring offline tokens live
an hour; the check runs every six).

Failures: a platform refusal (401/403, a scope missing, an unreadable stored token) is recorded in the
report's ``problems`` and the job ends; the next scheduled run asks again, nothing retries it in a loop.
A TransientPlatformError (429, 5xx, network) propagates so that RQ retries the job; the facts alone
failing that way are left for the next check (the subscriptions' outcome is still recorded).
"""

from __future__ import annotations

import dataclasses
import json
import logging

import sqlalchemy as sa

from integration.core.crypto import SecretUnreadable
from integration.core.db import utcnow
from integration.core.fanout import active_shop_ids, enqueue_per_shop
from integration.core.runtime import Runtime
from integration.platforms.interfaces import (
    BadPayload,
    Connection,
    NotFoundAtPlatform,
    PlatformRefused,
    ShopAccess,
    ShopFacts,
    SubscriptionReport,
    TransientPlatformError,
)
from integration.platforms.registry import connect
from integration.shops.facts import record_facts
from integration.shops.models import Shop, ShopState, TokenState
from integration.shops.tasks import CHECK_SUBSCRIPTIONS
from integration.shops.tokens import ShopNotInstalled, TokenRefreshFailed, fresh_access

log = logging.getLogger(__name__)

MAX_PROBLEM_LENGTH = 500

REFUSALS = (PlatformRefused, BadPayload, NotFoundAtPlatform)


def report_json(report: SubscriptionReport) -> str:
    return json.dumps(dataclasses.asdict(report), sort_keys=True)


def parse_report(raw: str | None) -> dict[str, list[str]] | None:
    """A stored report as lists per key (None when the shop was never checked or the JSON is broken)."""
    if not raw:
        return None
    try:
        loaded = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(loaded, dict):
        return None
    return {
        name: [str(item) for item in loaded.get(name) or ()]
        for name in ("present", "created", "reactivated", "problems")
    }


def summarise_report(raw: str | None) -> str:
    """One line for ops: ``"12 ok, 1 created, 0 re-activated, 0 problems"``, or ``"never checked"``."""
    return summarise(parse_report(raw))


def summarise(report: dict[str, list[str]] | None) -> str:
    """:func:`summarise_report` of an already parsed report."""
    if report is None:
        return "never checked"
    return (
        f"{len(report['present'])} ok, {len(report['created'])} created, "
        f"{len(report['reactivated'])} re-activated, {len(report['problems'])} problems"
    )


def check_shop(runtime: Runtime, shop_id: int) -> SubscriptionReport | None:
    """Check and repair one shop's webhook subscriptions, read its facts, and record both on the shop.

    None when the shop is gone or not active. Raises TransientPlatformError (nothing recorded) so RQ
    retries; a refusal is recorded as the report's problem instead.
    """
    with runtime.session() as session:
        shop = session.get(Shop, shop_id)
        if shop is None or shop.state != ShopState.ACTIVE:
            return None
        platform = shop.platform
        refresh_failed = shop.token_state == TokenState.REFRESH_FAILED
        webhook_token_enc = shop.webhook_token_enc
    access: ShopAccess | None = None
    unreadable = False
    try:
        webhook_token = runtime.cipher.decrypt_optional(webhook_token_enc)
        if not refresh_failed:
            # Outside any session of ours: a refresh stores the new pair in its own transaction.
            access = fresh_access(runtime, shop_id)
    except SecretUnreadable:
        webhook_token, unreadable = None, True
    except ShopNotInstalled:
        return None  # uninstalled meanwhile
    except TokenRefreshFailed:
        webhook_token, refresh_failed = None, True
    facts: ShopFacts | None = None
    if unreadable:
        report = _problem("the stored token cannot be decrypted with TOKEN_ENCRYPTION_KEY (see `keys check`)")
    elif refresh_failed:
        # The platform refused the token's refresh: every call would be refused too, until a reinstall.
        report = _problem("not checked: the shop's token refresh failed (see token_error); it needs a reinstall")
    elif access is None:
        return None
    else:
        try:
            report, facts = _ensure(runtime, platform, access, webhook_token)
        except TransientPlatformError:
            log.warning("subscription check for shop %s: platform unavailable; will retry", shop_id)
            raise
        except REFUSALS as exc:
            report = _problem(f"the platform refused: {exc}")
    _record(runtime, shop_id, report, facts)
    if report.problems:
        log.warning("subscriptions of shop %s: %s", shop_id, "; ".join(report.problems))
    elif report.created or report.reactivated:
        log.info(
            "subscriptions of shop %s: created %s, re-activated %s",
            shop_id,
            ", ".join(report.created) or "none",
            ", ".join(report.reactivated) or "none",
        )
    return report


def _problem(text: str) -> SubscriptionReport:
    return SubscriptionReport(problems=(text[:MAX_PROBLEM_LENGTH],))


def _ensure(
    runtime: Runtime, platform: str, access: ShopAccess, webhook_token: str | None
) -> tuple[SubscriptionReport, ShopFacts | None]:
    connection = connect(runtime, platform, access)
    try:
        report = connection.ensure_subscriptions(webhook_token)
        facts, problem = _read_facts(connection, access.shop_id)
    finally:
        connection.close()
    if problem:
        report = dataclasses.replace(report, problems=(*report.problems, problem))
    return report, facts


def _read_facts(connection: Connection, shop_id: int) -> tuple[ShopFacts | None, str | None]:
    """(facts, None), or (None, a problem for the report) when the platform refused them. A platform
    that is down costs only the facts: the subscriptions' outcome is recorded and the next check reads
    them."""
    try:
        return connection.shop_facts(), None
    except TransientPlatformError as exc:
        log.warning("shop %s: shop facts not read (%s); the next check reads them", shop_id, type(exc).__name__)
        return None, None
    except REFUSALS as exc:
        return None, f"shop facts not read: the platform refused: {exc}"[:MAX_PROBLEM_LENGTH]


def _record(runtime: Runtime, shop_id: int, report: SubscriptionReport, facts: ShopFacts | None) -> None:
    with runtime.session() as session:
        result = session.execute(
            sa.update(Shop)
            .where(Shop.id == shop_id, Shop.state == ShopState.ACTIVE)
            .values(subscriptions_checked_at=utcnow(), subscriptions_report=report_json(report))
        )
        if facts is not None and result.rowcount:  # type: ignore[attr-defined]
            record_facts(session, shop_id, facts)


def enqueue_checks(runtime: Runtime) -> list[int]:
    """Enqueue one subscription check per active shop that has none waiting or running; returns them."""
    with runtime.session() as session:
        shop_ids = active_shop_ids(session)
    return enqueue_per_shop(runtime, CHECK_SUBSCRIPTIONS, shop_ids)
