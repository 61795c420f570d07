"""BigCommerce's parts, as the registry hands them to the rest of the app."""

from __future__ import annotations

import requests

from integration.core.runtime import Runtime
from integration.platforms.bigcommerce.adapter import BigCommerceAdapter
from integration.platforms.bigcommerce.connection import BigCommerceConnection
from integration.platforms.bigcommerce.rate_budget import budget_factory, budget_left
from integration.platforms.bigcommerce.topics import STORE_HASH_RE
from integration.platforms.interfaces import Adapter, Connection, PlatformParts, ShopAccess


def _normalise(identifier: str) -> str | None:
    value = identifier.strip().lower()
    return value if STORE_HASH_RE.fullmatch(value) else None


def _admin_origins(identifier: str) -> str | None:
    return f"https://store-{identifier}.mybigcommerce.com" if STORE_HASH_RE.fullmatch(identifier) else None


def _adapter(runtime: Runtime) -> Adapter:
    settings = runtime.settings
    # Every worker shares each store's quota and concurrency cap through Redis.
    budget = budget_factory(runtime.redis, max_concurrency=settings.bigcommerce_max_concurrency)
    return BigCommerceAdapter(settings.bigcommerce_api_url, budget_for=budget)


def _connect(runtime: Runtime, access: ShopAccess, http: requests.Session | None) -> Connection:
    return BigCommerceConnection(runtime, access, http)


PARTS = PlatformParts(
    name="bigcommerce",
    title="BigCommerce",
    blueprint="integration.platforms.bigcommerce.views:bp",
    normalise_identifier=_normalise,
    identifier_hint="a valid BigCommerce store hash",
    identifier_option="store_hash",
    admin_origins=_admin_origins,
    adapter=_adapter,
    connect=_connect,
    api_budget=budget_left,
)
