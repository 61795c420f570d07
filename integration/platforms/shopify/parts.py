"""Shopify's parts, as the registry hands them to the rest of the app."""

from __future__ import annotations

import requests

from integration.core.runtime import Runtime
from integration.platforms.interfaces import Adapter, Connection, GrantedToken, PlatformParts, ShopAccess
from integration.platforms.shopify import oauth
from integration.platforms.shopify.adapter import ShopifyAdapter
from integration.platforms.shopify.connection import ShopifyConnection, budget_left, graphql_client
from integration.platforms.shopify.topics import valid_shop_domain

ADMIN_ORIGIN = "https://admin.shopify.com"


def _normalise(identifier: str) -> str | None:
    value = identifier.strip().lower()
    return value if valid_shop_domain(value) else None


def _admin_origins(identifier: str) -> str | None:
    # The shop's own domain (the legacy admin) and the unified admin.
    return f"https://{identifier} {ADMIN_ORIGIN}" if valid_shop_domain(identifier) else None


def _adapter(runtime: Runtime) -> Adapter:
    return ShopifyAdapter(graphql=lambda access: graphql_client(runtime.settings, access, redis=runtime.redis))


def _connect(runtime: Runtime, access: ShopAccess, http: requests.Session | None) -> Connection:
    return ShopifyConnection(runtime, access, http)


def _refresh_token(
    runtime: Runtime, identifier: str, refresh_token: str, http: requests.Session | None
) -> GrantedToken:
    # Expiring offline tokens: a rotating refresh token buys a new pair (``integration.shops.tokens``).
    settings = runtime.settings
    return oauth.refresh_token(
        settings.shopify_admin_url,
        identifier,
        refresh_token,
        client_id=settings.shopify_api_key,
        client_secret=settings.shopify_api_secret,
        session=http,
    )


PARTS = PlatformParts(
    name="shopify",
    title="Shopify",
    blueprint="integration.platforms.shopify.views:bp",
    normalise_identifier=_normalise,
    identifier_hint="a valid *.myshopify.com domain",
    identifier_option="domain",
    admin_origins=_admin_origins,
    adapter=_adapter,
    connect=_connect,
    refresh_token=_refresh_token,
    # Shopify has no remove-user callback: a staff session counts only while a session token confirmed
    # the person within the hour (every load of the app from the admin brings one).
    confirm_staff_every=3600,
    api_budget=budget_left,
)
