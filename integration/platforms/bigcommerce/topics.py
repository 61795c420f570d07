"""BigCommerce webhook scopes and identifiers: what the edge and the registry need without the adapter."""

from __future__ import annotations

import re

PLATFORM = "bigcommerce"

ORDER_SCOPES = frozenset(
    {"store/order/created", "store/order/updated", "store/order/statusUpdated", "store/order/archived"}
)
CUSTOMER_SCOPES = frozenset({"store/customer/created", "store/customer/updated"})
CUSTOMER_DELETED = "store/customer/deleted"
SHIPMENT_CREATED = "store/shipment/created"
# Newsletter sign-ups (Subscribers V3). A subscriber is not always a customer, so consent is matched by
# email. A deleted subscriber's body names only an id we never stored against an email: left stored.
SUBSCRIBER_SCOPES = frozenset({"store/subscriber/created", "store/subscriber/updated"})
NEWSLETTER_CONSENT = "marketing_newsletter"
# Written by reconciliation (``integration.sync.reconcile``) for what it found changed, body {"data": {"id": N}}:
# handled exactly like the webhooks they stand in for.
RECONCILE_ORDER = "reconcile/order"
RECONCILE_CUSTOMER = "reconcile/customer"
# The app was uninstalled: by hook (best effort: BigCommerce deletes an app's hooks as it uninstalls it),
# or stored by the uninstall callback when it could not confirm the uninstall at once. Processing asks
# BigCommerce before it destroys the store's token (``integration.shops.lifecycle``).
APP_UNINSTALLED = "store/app/uninstalled"
SCOPES_HANDLED: frozenset[str] = (
    ORDER_SCOPES
    | CUSTOMER_SCOPES
    | SUBSCRIBER_SCOPES
    | {CUSTOMER_DELETED, SHIPMENT_CREATED, RECONCILE_ORDER, RECONCILE_CUSTOMER, APP_UNINSTALLED}
)
# What may arrive by webhook and be processed (reconcile/* are only ever written by us).
WEBHOOK_SCOPES: frozenset[str] = SCOPES_HANDLED - {RECONCILE_ORDER, RECONCILE_CUSTOMER}

STORE_HASH_RE = re.compile(r"[a-z0-9]{1,64}")
# Ids from a webhook body end up in URL paths, so only plain numbers get through.
RESOURCE_ID_RE = re.compile(r"[0-9]{1,20}")


def store_hash_from_producer(producer: object) -> str | None:
    """``"stores/{hash}"`` (the webhook ``producer`` and the JWT ``sub``) -> hash; anything else -> None."""
    if not isinstance(producer, str):
        return None
    prefix, _, store_hash = producer.partition("/")
    if prefix != "stores" or not STORE_HASH_RE.fullmatch(store_hash):
        return None
    return store_hash
