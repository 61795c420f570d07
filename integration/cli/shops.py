"""``shops``: register a shop by hand (local use and tests, until the install flow lands)."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from integration import runtime_of
from integration.models import Platform
from integration.shops import ShopError, register_shop


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
    identifier = domain if platform == Platform.SHOPIFY else store_hash
    other = store_hash if platform == Platform.SHOPIFY else domain
    flag = "--domain" if platform == Platform.SHOPIFY else "--store-hash"
    if not identifier:
        raise click.UsageError(f"{flag} is required for {platform}")
    if other:
        raise click.UsageError(f"{'--store-hash' if flag == '--domain' else '--domain'} is not for {platform}")
    try:
        with runtime_of(current_app).session() as session:
            shop = register_shop(session, platform, identifier, token)
    except ShopError as exc:
        raise click.BadParameter(str(exc)) from exc
    if as_json:
        click.echo(
            json.dumps({"platform": shop.platform, "shop": shop.identifier, "webhook_token": shop.webhook_token})
        )
    else:
        click.echo(f"Registered {shop.platform} shop {shop.identifier} (id {shop.id}).")
        click.echo(f"Webhook token (shown once): {shop.webhook_token}")
