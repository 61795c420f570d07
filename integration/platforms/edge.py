"""What the webhook edge needs to know of each platform (topics, identifiers, timestamps), and nothing more.

The edge answers in a few milliseconds and must not load the adapters and clients to do it; this module
keeps the platform packages' small ``topics`` modules behind one name.
"""

from __future__ import annotations

from integration.platforms.bigcommerce.topics import WEBHOOK_SCOPES as BIGCOMMERCE_WEBHOOK_SCOPES
from integration.platforms.bigcommerce.topics import store_hash_from_producer
from integration.platforms.shopify.topics import TOPICS_STORED as SHOPIFY_TOPICS_STORED
from integration.platforms.shopify.topics import WEBHOOK_TOPICS as SHOPIFY_WEBHOOK_TOPICS
from integration.platforms.shopify.topics import parse_timestamp, valid_shop_domain

__all__ = [
    "BIGCOMMERCE_WEBHOOK_SCOPES",
    "SHOPIFY_TOPICS_STORED",
    "SHOPIFY_WEBHOOK_TOPICS",
    "parse_timestamp",
    "store_hash_from_producer",
    "valid_shop_domain",
]
