"""GraphQL Admin API nodes, restated in the REST shape that Shopify's webhooks use.

Reconciliation reads orders and customers over GraphQL (REST is legacy for new apps), while webhooks
deliver REST-shaped JSON. Restating the node lets one parser (``integration.platforms.shopify.adapter``) turn
both into the event model, so a reconciled order cannot be understood differently from the same order
arriving by webhook. Only the fields that parser reads are carried over.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# GraphQL's displayFulfillmentStatus -> REST's fulfillment_status (None: nothing shipped yet).
_FULFILLMENT_STATUS = {
    "FULFILLED": "fulfilled",
    "PARTIALLY_FULFILLED": "partial",
    "RESTOCKED": "restocked",
}


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _lower(value: object) -> str | None:
    return value.lower() if isinstance(value, str) else None


def _shop_money(value: object) -> Any:
    return _map(_map(value).get("shopMoney")).get("amount")


def _nodes(value: object) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        value = value.get("nodes")
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _legacy_id(value: object) -> Any:
    return _map(value).get("legacyResourceId")


def _numeric_tail(gid: object) -> str | None:
    """``gid://shopify/LineItem/5`` -> ``"5"``."""
    return gid.rsplit("/", 1)[-1] if isinstance(gid, str) and gid.startswith("gid://") else None


def rest_address(node: object) -> dict[str, Any] | None:
    address = _map(node)
    if not address:
        return None
    return {
        "city": address.get("city"),
        "province": address.get("province"),
        "province_code": address.get("provinceCode"),
        "country_code": address.get("countryCodeV2"),
        "zip": address.get("zip"),
    }


def _consent(node: object) -> dict[str, Any] | None:
    consent = _map(node)
    if not consent:
        return None
    return {"state": _lower(consent.get("marketingState")), "consent_updated_at": consent.get("consentUpdatedAt")}


def rest_customer(node: Mapping[str, Any]) -> dict[str, Any]:
    tags = node.get("tags")
    customer: dict[str, Any] = {
        "id": node.get("legacyResourceId"),
        "email": node.get("email"),
        "first_name": node.get("firstName"),
        "last_name": node.get("lastName"),
        "phone": node.get("phone"),
        "locale": node.get("locale"),
        "updated_at": node.get("updatedAt"),
        "default_address": rest_address(node.get("defaultAddress")),
        # REST sends tags as one comma-separated string.
        "tags": ", ".join(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else None,
    }
    for rest_key, graphql_key in (
        ("email_marketing_consent", "emailMarketingConsent"),
        ("sms_marketing_consent", "smsMarketingConsent"),
    ):
        consent = _consent(node.get(graphql_key))
        if consent is not None:
            customer[rest_key] = consent
    return customer


def rest_fulfillment(node: Mapping[str, Any], order_id: object) -> dict[str, Any]:
    tracking = next(iter(node.get("trackingInfo") or []), None)
    tracking = _map(tracking)
    return {
        "id": node.get("legacyResourceId"),
        "order_id": order_id,
        "status": _lower(node.get("status")),
        # displayStatus spells the carrier states REST calls shipment_status (IN_TRANSIT, DELIVERED...).
        "shipment_status": _lower(node.get("displayStatus")),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "tracking_company": tracking.get("company"),
        "tracking_number": tracking.get("number"),
        "tracking_url": tracking.get("url"),
    }


def rest_order(node: Mapping[str, Any]) -> dict[str, Any]:
    customer = node.get("customer")
    order_id = node.get("legacyResourceId")
    fulfillments = node.get("fulfillments")
    return {
        "id": order_id,
        "name": node.get("name"),
        "email": node.get("email"),
        "phone": node.get("phone"),
        "created_at": node.get("createdAt"),
        "processed_at": node.get("processedAt"),
        "updated_at": node.get("updatedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "financial_status": _lower(node.get("displayFinancialStatus")),
        "fulfillment_status": _FULFILLMENT_STATUS.get(str(node.get("displayFulfillmentStatus"))),
        "currency": node.get("currencyCode"),
        "customer_locale": node.get("customerLocale"),
        "total_price": _shop_money(node.get("totalPriceSet")),
        # GraphQL lists the codes' text only; what each took off is not needed to match a code.
        "discount_codes": [{"code": code} for code in node.get("discountCodes") or [] if isinstance(code, str)],
        "customer": rest_customer(customer) if isinstance(customer, Mapping) else None,
        "shipping_address": rest_address(node.get("shippingAddress")),
        "line_items": [
            {
                "id": _numeric_tail(item.get("id")),
                "title": item.get("title"),
                "sku": item.get("sku"),
                "quantity": item.get("quantity"),
                "price": _shop_money(item.get("originalUnitPriceSet")),
                "product_id": _legacy_id(item.get("product")),
                "variant_id": _legacy_id(item.get("variant")),
            }
            for item in _nodes(node.get("lineItems"))
        ],
        "transactions": [
            {
                "kind": _lower(t.get("kind")),
                "status": _lower(t.get("status")),
                "processed_at": t.get("processedAt"),
                "created_at": t.get("createdAt"),
            }
            for t in _nodes(node.get("transactions"))
        ],
        "fulfillments": [
            rest_fulfillment(f, order_id)
            for f in (fulfillments if isinstance(fulfillments, list) else [])
            if isinstance(f, Mapping)
        ],
    }
