"""``shops``: register a shop by hand (until the install flow lands) and backfill its history."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup
from redis.exceptions import RedisError

from integration import runtime_of
from integration.core.db import utcnow
from integration.customers.views import find_shop
from integration.platforms.interfaces import BadPayload, PlatformRefused, TransientPlatformError
from integration.platforms.registry import parts_for
from integration.shops.models import Platform, Shop, ShopState, TokenState
from integration.shops.registry import ShopError, register_shop
from integration.shops.subscriptions import parse_report, summarise
from integration.sync.reconcile import enqueue_reconciliations, reconcile_shop


@click.group(cls=AppGroup)
def shops() -> None:
    """Manage shops."""


@shops.command("add")
@click.option("--platform", type=click.Choice([p.value for p in Platform]), required=True)
@click.option("--domain", help="Shopify: the shop's *.myshopify.com domain.")
@click.option("--store-hash", help="BigCommerce: the store hash.")
@click.option("--token", required=True, help="The platform API access token for this shop.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def add(platform: str, domain: str | None, store_hash: str | None, token: str, as_json: bool) -> None:
    """Register (or re-register) a shop and print its new webhook token.

    The token is shown only here: BigCommerce hooks must send it in the X-Webhook-Token header.
    """
    # Each platform names its shops by one of the two flags (its parts say which); the other must be absent.
    given = {"domain": domain, "store_hash": store_hash}
    wanted = parts_for(platform).identifier_option
    identifier = given.pop(wanted)
    flag = "--" + wanted.replace("_", "-")
    if not identifier:
        raise click.UsageError(f"{flag} is required for {platform}")
    for option, value in given.items():
        if value:
            raise click.UsageError(f"--{option.replace('_', '-')} is not for {platform}")
    try:
        with runtime_of(current_app).session() as session:
            shop = register_shop(session, runtime_of(current_app).cipher, platform, identifier, token)
    except ShopError as exc:
        raise click.BadParameter(str(exc)) from exc
    if as_json:
        click.echo(
            json.dumps({"platform": shop.platform, "shop": shop.identifier, "webhook_token": shop.webhook_token})
        )
    else:
        click.echo(f"Registered {shop.platform} shop {shop.identifier} (id {shop.id}).")
        click.echo(f"Webhook token (shown once): {shop.webhook_token}")
    _start_backfill(shop.id)


def _start_backfill(shop_id: int) -> None:
    """Queue the new shop's first reconciliation (its backfill) now rather than at the next interval."""
    runtime = runtime_of(current_app)
    try:
        enqueue_reconciliations(runtime, [shop_id])
    except RedisError as exc:
        # Registration is done; the scheduler's next round reconciles the shop anyway.
        click.echo(f"backfill not queued now ({type(exc).__name__}); the scheduler will start it", err=True)


@shops.command("backfill")
@click.argument("shop")
@click.option(
    "--days",
    type=click.IntRange(min=1, max=3650),
    default=None,
    help="How far back to read (default: BACKFILL_DAYS, 30).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object when done.")
def backfill(shop: str, days: int | None, as_json: bool) -> None:
    """Read SHOP's orders and customers changed in the last DAYS days and queue what we lack.

    SHOP is the Shopify domain or the BigCommerce store hash. What is found is stored as events and
    processed by the workers like webhooks (`events list --shop SHOP` shows them); running it again
    stores nothing new.
    """
    runtime = runtime_of(current_app)
    with runtime.session() as session:
        found = find_shop(session, shop)
        shop_id = found.id if found is not None else None
    if shop_id is None:
        click.echo("shop not found", err=True)
        raise SystemExit(1)
    since = utcnow() - dt.timedelta(days=days or runtime.settings.backfill_days)

    def progress(resource: str, listed: int, stored: int) -> None:
        click.echo(f"{resource}: {listed} listed, {stored} queued", err=True)

    try:
        report = reconcile_shop(runtime, shop_id, since=since, progress=progress)
    except TransientPlatformError as exc:
        click.echo(f"the platform is unavailable, try again later: {exc}", err=True)
        raise SystemExit(2) from None
    except (PlatformRefused, BadPayload) as exc:
        click.echo(f"the platform refused: {exc}", err=True)
        raise SystemExit(2) from None
    if report.skipped:
        click.echo(f"nothing done: {report.skipped}", err=True)
        raise SystemExit(1)
    if as_json:
        click.echo(json.dumps(report.as_dict()))
    else:
        for part in report.resources:
            click.echo(
                f"{part.resource}: {part.found} changed since {part.since:%Y-%m-%d %H:%M} UTC, {part.stored} queued"
            )


@shops.command("list")
@click.option("--attention", is_flag=True, help="Only shops ops must look at: token refresh failed, or hooks broken.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def list_command(attention: bool, as_json: bool) -> None:
    """Every shop, installed or not, with its token state and last webhook subscription check.

    Tokens and secrets are never shown.
    """
    with runtime_of(current_app).session() as session:
        rows = [_overview(shop) for shop in session.scalars(sa.select(Shop).order_by(Shop.id))]
    if attention:
        rows = [row for row in rows if row["attention"]]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no shops")
        return
    click.echo(f"{'ID':>5}  {'PLATFORM':<11} {'SHOP':<32} {'STATE':<11} {'TOKEN':<14} {'INSTALLED':<10}  SUBSCRIPTIONS")
    for row in rows:
        report = row["subscriptions"]
        checked = row["subscriptions_checked_at"]
        subscriptions = summarise(report)
        if checked:
            subscriptions += f" ({checked[:16].replace('T', ' ')})"
        installed = (row["installed_at"] or "")[:10]
        click.echo(
            f"{row['id']:>5}  {row['platform']:<11} {row['shop'][:32]:<32} {row['state']:<11} "
            f"{row['token_state']:<14} {installed:<10}  {subscriptions}"
        )
        if row["uninstalled_at"]:
            click.echo(f"{'':>7}uninstalled {row['uninstalled_at']}")
        if row["token_error"]:
            click.echo(f"{'':>7}token: {row['token_error'][:200]}")
        for problem in (report or {}).get("problems", []):
            click.echo(f"{'':>7}subscriptions: {problem[:200]}")


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def _overview(shop: Shop) -> dict[str, Any]:
    """What ops see of one shop (never a token or secret)."""
    report = parse_report(shop.subscriptions_report)
    attention = shop.state == ShopState.ACTIVE and (
        shop.token_state != TokenState.OK or bool(report and report["problems"])
    )
    return {
        "id": shop.id,
        "platform": shop.platform,
        "shop": shop.identifier,
        "state": shop.state,
        "token_state": shop.token_state,
        "token_error": shop.token_error,
        "installed_at": _iso(shop.installed_at),
        "uninstalled_at": _iso(shop.uninstalled_at),
        "subscriptions_checked_at": _iso(shop.subscriptions_checked_at),
        "subscriptions": report,
        "attention": attention,
    }
