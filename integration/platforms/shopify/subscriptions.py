"""A shop's Shopify webhook subscriptions, made to match what the product needs (idempotent).

Shop-specific subscriptions go through the GraphQL Admin API: ``webhookSubscriptions`` lists what the
shop has, ``webhookSubscriptionCreate`` adds only what is missing, so running this again (after install,
and from the subscription health job) changes nothing when all is in place. Shopify deletes API-made
subscriptions after repeated delivery failures (research §1.3), which is why it runs again later.

The three compliance topics cannot be subscribed over the API: ``shopify.app.toml`` at the repo root
declares them (and the same app topics, for merchants' apps deployed with the Shopify CLI).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from integration.core.config import Settings
from integration.platforms.interfaces import SubscriptionReport
from integration.platforms.shopify.client import ShopifyAPIError, ShopifyGraphQL
from integration.platforms.shopify.topics import APP_UNINSTALLED, WEBHOOK_TOPICS

log = logging.getLogger(__name__)

# Every topic the shop must deliver to us: what processing handles, and the uninstall notice.
SUBSCRIPTION_TOPICS: tuple[str, ...] = tuple(sorted(WEBHOOK_TOPICS | {APP_UNINSTALLED}))
COMPLIANCE_TOPICS: tuple[str, ...] = ("customers/data_request", "customers/redact", "shop/redact")
PAGE_SIZE = 100
MAX_PAGES = 20

SUBSCRIPTIONS_QUERY = """
query WebhookSubscriptions($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after) {
    nodes { id topic uri }
    pageInfo { hasNextPage endCursor }
  }
}
"""

SUBSCRIPTION_CREATE_MUTATION = """
mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""


def graphql_topic(topic: str) -> str:
    """``orders/create`` -> ``ORDERS_CREATE``; ``customer.tags_added`` -> ``CUSTOMER_TAGS_ADDED``."""
    return topic.replace("/", "_").replace(".", "_").upper()


def delivery_uri(settings: Settings) -> str:
    return f"{settings.public_url.rstrip('/')}/webhooks/shopify"


def list_subscriptions(client: ShopifyGraphQL) -> list[tuple[str, str]]:
    """(GraphQL topic, uri) of every subscription the shop has for this app."""
    found: list[tuple[str, str]] = []
    after: str | None = None
    for _ in range(MAX_PAGES):
        data = client.execute(
            SUBSCRIPTIONS_QUERY, {"first": PAGE_SIZE, "after": after}, operation="webhookSubscriptions"
        )
        connection = data.get("webhookSubscriptions")
        if not isinstance(connection, Mapping):
            raise ShopifyAPIError("Shopify webhookSubscriptions: unexpected response shape")
        nodes = connection.get("nodes")
        for node in nodes if isinstance(nodes, list) else []:
            if isinstance(node, Mapping) and isinstance(node.get("topic"), str):
                uri = node.get("uri")
                found.append((node["topic"], uri if isinstance(uri, str) else ""))
        page = connection.get("pageInfo")
        page = page if isinstance(page, Mapping) else {}
        cursor = page.get("endCursor")
        if page.get("hasNextPage") is not True or not isinstance(cursor, str):
            break
        after = cursor
    return found


def create_subscription(client: ShopifyGraphQL, topic: str, uri: str) -> None:
    variables: dict[str, Any] = {"topic": graphql_topic(topic), "webhookSubscription": {"uri": uri}}
    data = client.execute(SUBSCRIPTION_CREATE_MUTATION, variables, operation="webhookSubscriptionCreate")
    payload = data.get("webhookSubscriptionCreate")
    if not isinstance(payload, Mapping):
        raise ShopifyAPIError("Shopify webhookSubscriptionCreate: unexpected response shape")
    errors = payload.get("userErrors")
    messages = [
        str(e.get("message") or "refused")[:200]
        for e in (errors if isinstance(errors, list) else [])
        if isinstance(e, Mapping)
    ]
    if messages:
        raise ShopifyAPIError(f"Shopify webhookSubscriptionCreate refused: {'; '.join(messages)}")


def ensure_subscriptions(client: ShopifyGraphQL, settings: Settings) -> SubscriptionReport:
    """List the shop's subscriptions and create the missing ones (to ``{public_url}/webhooks/shopify``).

    A topic Shopify refuses (a scope not granted, protected customer data not approved) becomes a
    ``problems`` entry and the others still go ahead. Listing errors propagate: ShopifyAPIError (token
    refused), TransientPlatformError (Shopify busy or down: try again later).
    """
    uri = delivery_uri(settings)
    have = {topic for topic, at in list_subscriptions(client) if at == uri}
    present: list[str] = []
    created: list[str] = []
    problems: list[str] = []
    for topic in SUBSCRIPTION_TOPICS:
        if graphql_topic(topic) in have:
            present.append(topic)
            continue
        try:
            create_subscription(client, topic, uri)
        except ShopifyAPIError as exc:
            problems.append(f"{topic}: {exc}")
        else:
            created.append(topic)
    if created or problems:
        log.info(
            "Shopify %s subscriptions: %d present, %d created, %d problems",
            client.shop,
            len(present),
            len(created),
            len(problems),
        )
    return SubscriptionReport(present=tuple(present), created=tuple(created), problems=tuple(problems))


__all__ = ["COMPLIANCE_TOPICS", "SUBSCRIPTION_TOPICS", "delivery_uri", "ensure_subscriptions", "graphql_topic"]
