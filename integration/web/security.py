"""Response headers for the pages people use: who may frame them, and what the browser may load.

Shopify and BigCommerce show our pages inside their admin, in an iframe. ``frame-ancestors`` names the
signed-in shop's own admin and nothing else, so no other site (nor another shop's admin) can frame a
page that acts with the merchant's session. A page with nobody signed in may not be framed at all.
"""

from __future__ import annotations

from flask import Response

from integration.platforms.registry import admin_origins
from integration.shops.models import Shop

SHOPIFY_ADMIN = "https://admin.shopify.com"

# Everything from our own origin, nothing inline, no plugins; forms post only back to us.
BASE_POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
)


def frame_ancestors(shop: Shop | None) -> str:
    """The ``frame-ancestors`` sources for ``shop``'s admin: ``'none'`` without a (recognisable) shop.

    Shopify: the shop's own ``*.myshopify.com`` domain and the unified admin at admin.shopify.com.
    BigCommerce: the store's control panel, ``store-{hash}.mybigcommerce.com``.
    """
    if shop is not None:
        # Identifiers are normalised when a shop is registered; checked again because they go into a header.
        origins = admin_origins(shop.platform, shop.identifier)
        if origins:
            return origins
    return "'none'"


def content_security_policy(shop: Shop | None, style_nonce: str | None = None) -> str:
    policy: tuple[str, ...] = BASE_POLICY
    if style_nonce:
        # A page whose one <style> element carries this response's nonce (the customer pages' brand colours).
        policy = tuple(f"style-src 'self' 'nonce-{style_nonce}'" if p == "style-src 'self'" else p for p in policy)
    return "; ".join((*policy, f"frame-ancestors {frame_ancestors(shop)}"))


def apply_page_headers(response: Response, shop: Shop | None, *, style_nonce: str | None = None) -> Response:
    """The headers every page a person sees carries (set on the response in place, and returned)."""
    response.headers["Content-Security-Policy"] = content_security_policy(shop, style_nonce)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Embedded-app URLs carry the shop and platform tokens in their query: never sent to other sites.
    response.headers["Referrer-Policy"] = "same-origin"
    # Pages show the merchant's and their staff's details: not kept in shared or browser caches.
    response.headers["Cache-Control"] = "no-store"
    return response
