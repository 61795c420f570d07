"""The one place that maps a platform's name to its parts (adapter, per-shop connection, identifiers).

Nothing outside ``integration/platforms/`` imports a platform's package or branches on its name: it asks
here. Each part is built from the runtime, so every client a job gets shares the same Redis (a
BigCommerce store's API quota and concurrency cap are one budget across all workers and jobs).
"""

from __future__ import annotations

from collections.abc import Mapping

import requests

from integration.core.runtime import Runtime
from integration.platforms.bigcommerce.parts import PARTS as BIGCOMMERCE
from integration.platforms.interfaces import Adapter, BadPayload, Connection, PlatformParts, ShopAccess
from integration.platforms.shopify.parts import PARTS as SHOPIFY

PLATFORMS: Mapping[str, PlatformParts] = {parts.name: parts for parts in (SHOPIFY, BIGCOMMERCE)}


class UnknownPlatform(BadPayload):
    """A stored platform name no part is registered for."""


def parts_for(platform: str) -> PlatformParts:
    parts = PLATFORMS.get(platform)
    if parts is None:
        raise UnknownPlatform(f"unknown platform {platform!r}")
    return parts


def connect(runtime: Runtime, platform: str, access: ShopAccess, *, http: requests.Session | None = None) -> Connection:
    """One shop's API session; close it when done. Raises BadPayload when there is nothing to call with."""
    return parts_for(platform).connect(runtime, access, http)


def adapters(runtime: Runtime) -> dict[str, Adapter]:
    """Each platform's adapter, for event processing."""
    return {name: parts.adapter(runtime) for name, parts in PLATFORMS.items()}


def admin_origins(platform: str, identifier: str) -> str | None:
    parts = PLATFORMS.get(platform)
    return parts.admin_origins(identifier) if parts is not None else None
