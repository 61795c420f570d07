"""BigCommerce customer attributes: the merchant-visible fields write-back fills in (research §3.4).

An attribute is defined once per store (``POST /v3/customers/attributes``; a store holds at most 50, and
an attribute's type can never change), then each customer's value is upserted with
``PUT /v3/customers/attribute-values``, at most :data:`MAX_VALUES_PER_CALL` values per call. Every call
goes through :meth:`BigCommerceClient.request`, so it is paced by the store's quota and its failures are
classified like every other call (TransientPlatformError, NotFoundAtPlatform, BigCommerceAPIError).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from integration.platforms.bigcommerce.client import UNEXPECTED_BODY, BigCommerceAPIError, BigCommerceClient

ATTRIBUTES_PATH = "/v3/customers/attributes"
VALUES_PATH = "/v3/customers/attribute-values"
MAX_VALUES_PER_CALL = 10  # BigCommerce's limit for one upsert
MAX_VALUE_LENGTH = 255


@dataclass(frozen=True)
class AttributeValue:
    attribute_id: int
    customer_id: int
    value: str


def find_attribute(client: BigCommerceClient, name: str) -> int | None:
    """The id of the store's attribute called exactly ``name``, if there is one."""
    items, _more = client.get_v3_page(ATTRIBUTES_PATH, {"name": name})
    # Compare the name ourselves: a filter the API ignored (or matched loosely) must not hand us the
    # id of some other attribute, whose values we would then overwrite.
    for item in items:
        if item.get("name") == name and _int(item.get("id")) is not None:
            return _int(item.get("id"))
    return None


def create_attribute(client: BigCommerceClient, name: str, type: str = "string") -> int:
    body = client.request("POST", ATTRIBUTES_PATH, json=[{"name": name, "type": type}])
    for item in _data(body, "POST"):
        if item.get("name") == name and _int(item.get("id")) is not None:
            return int(item["id"])
    raise BigCommerceAPIError("POST", ATTRIBUTES_PATH, 200, UNEXPECTED_BODY)


def ensure_attribute(client: BigCommerceClient, name: str, type: str = "string") -> int:
    """Find the attribute by name, else define it: a store keeps at most 50, so never a second copy."""
    found = find_attribute(client, name)
    return found if found is not None else create_attribute(client, name, type)


def upsert_values(client: BigCommerceClient, values: Sequence[AttributeValue]) -> None:
    """One upsert call; the caller keeps it within :data:`MAX_VALUES_PER_CALL`."""
    if len(values) > MAX_VALUES_PER_CALL:
        raise ValueError(f"at most {MAX_VALUES_PER_CALL} attribute values per call")
    if not values:
        return
    payload = [
        {"attribute_id": v.attribute_id, "customer_id": v.customer_id, "value": v.value[:MAX_VALUE_LENGTH]}
        for v in values
    ]
    client.request("PUT", VALUES_PATH, json=payload)


def delete_values(client: BigCommerceClient, attribute_id: int, customer_ids: Sequence[int]) -> None:
    """Remove these customers' values of one attribute (an empty value is not a valid upsert).

    The delete takes value ids, so the values are looked up first; a customer without one is fine.
    """
    if not customer_ids:
        return
    params = {
        "attribute_id:in": str(attribute_id),
        "customer_id:in": ",".join(str(c) for c in customer_ids),
    }
    items, _more = client.get_v3_page(VALUES_PATH, params)
    wanted = set(customer_ids)
    ids = [
        str(item["id"])
        for item in items
        if _int(item.get("id")) is not None
        and _int(item.get("attribute_id")) == attribute_id
        and _int(item.get("customer_id")) in wanted
    ]
    if ids:
        client.request("DELETE", VALUES_PATH, params={"id:in": ",".join(ids)})


def _data(body: Any, method: str) -> list[dict[str, Any]]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise BigCommerceAPIError(method, ATTRIBUTES_PATH, 200, UNEXPECTED_BODY)
    return [item for item in data if isinstance(item, dict)]


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def valid_customer_id(customer_id: str) -> bool:
    """BigCommerce customer ids are positive integers (0 is a guest)."""
    return customer_id.isascii() and customer_id.isdigit() and int(customer_id) > 0
