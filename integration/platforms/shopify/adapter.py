"""Shopify: turn a stored webhook body into the one event model.

Webhook topics are translated offline. The topics in ``API_TOPICS`` name a resource instead of carrying
it (reconciliation's events, tag and purchasing-summary notices): those read it over GraphQL, restate it
in the webhook shape (``shopify_shapes``) and go through the same parsers.

Webhook bodies are REST-shaped resources. Ids are 64-bit integers, so they are parsed as Python ints
and turned into strings, never through a float (a double keeps only 53 bits). Optional fields that
are missing or of an unexpected type become ``None``: one odd field should not stop an order from
being recorded. Only what a change cannot be keyed or ordered without (ids, a time) is a BadPayload.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from integration.events.changes import (
    Change,
    ShopUninstalled,
    Skip,
)
from integration.platforms.interfaces import BadPayload, ShopAccess, StoredEvent
from integration.platforms.shopify.orders import order_topic, reconciled_order
from integration.platforms.shopify.payloads import (
    TRANSLATORS,
    Payload,
    as_utc,
    customer_topic,
    gid_id,
    load_object,
    required_id,
)
from integration.platforms.shopify.shapes import rest_customer, rest_order
from integration.platforms.shopify.topics import (
    API_TOPICS,
    APP_UNINSTALLED,
    PURCHASING_SUMMARY,
    RECONCILE_CUSTOMER,
    RECONCILE_ORDER,
    TOPICS_HANDLED,
)

if TYPE_CHECKING:
    from integration.platforms.interfaces import Adapter
    from integration.platforms.shopify.client import ShopifyGraphQL

GraphQLFactory = Callable[[ShopAccess], "ShopifyGraphQL"]


class ShopifyAdapter:
    platform = "shopify"

    def __init__(self, graphql: GraphQLFactory | None = None) -> None:
        # Without a client factory only the offline topics are handled (the API topics stay stored).
        self._graphql = graphql
        self._clients: dict[str, ShopifyGraphQL] = {}

    def handles(self, topic: str) -> bool:
        return (
            topic in TOPICS_HANDLED or topic == APP_UNINSTALLED or (self._graphql is not None and topic in API_TOPICS)
        )

    def translate(self, event: StoredEvent, shop: ShopAccess) -> Sequence[Change] | Skip:
        """The changes in one event (a customer may come with its consents); Skip for other topics or
        statuses we do not know yet."""
        if not self.handles(event.topic):
            return Skip("topic not handled")
        if event.topic == APP_UNINSTALLED:
            # The body is the Shop object; the delivery's shop and time are all that matter.
            return (ShopUninstalled(as_utc(event.triggered_at)),)
        payload = load_object(event.body)
        if event.topic in API_TOPICS:
            return self._read_back(event.topic, payload, shop)
        resource = event.topic.partition("/")[0]
        if resource == "orders":
            return (order_topic(event.topic, payload, as_utc(event.triggered_at)),)
        result = TRANSLATORS[resource](payload, as_utc(event.triggered_at))
        if isinstance(result, Skip):
            return result
        return tuple(result) if isinstance(result, Sequence) else (result,)

    def _read_back(self, topic: str, payload: Payload, shop: ShopAccess) -> Sequence[Change] | Skip:
        if topic == PURCHASING_SUMMARY:
            # Sent after each order a customer places: reading that order back recovers it when its
            # orders/create was lost, and is a no-op (an older or equal updated_at) when it was not.
            last_order = gid_id(payload.get("lastOrderId"), "Order")
            if last_order is None:
                return Skip("purchasing summary names no order")
            return reconciled_order(rest_order(self._client(shop).order(last_order)))
        if topic == RECONCILE_ORDER:
            order_id = required_id(payload, "id", "order")
            return reconciled_order(rest_order(self._client(shop).order(order_id)))
        if topic == RECONCILE_CUSTOMER:
            customer_id = required_id(payload, "id", "customer")
        else:  # tags added or removed: read the whole list back rather than apply a delta out of order
            customer_id = gid_id(payload.get("customerId"), "Customer") or required_id(payload, "id", "customer")
        return customer_topic(rest_customer(self._client(shop).customer(customer_id)), None)

    def _client(self, shop: ShopAccess) -> ShopifyGraphQL:
        if self._graphql is None:  # handles() refuses API topics without a factory
            raise BadPayload("no Shopify API access configured")
        if not shop.access_token:
            raise BadPayload(f"no access token for shop {shop.shop_id}")
        client = self._clients.get(shop.identifier)
        if client is None or not client.uses_token(shop.access_token):
            client = self._graphql(shop)
            self._clients[shop.identifier] = client
        return client

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


if TYPE_CHECKING:
    # Lets mypy prove the class satisfies the protocol without an instance at run time.
    _ADAPTER_CHECK: Adapter = ShopifyAdapter()
