"""BigCommerce customer attributes and their values, added to a :class:`FakeBigCommerce` (real HTTP).

Call :func:`install` on a fake that has not served a request yet (Flask refuses new routes after that).
What it imitates (research §3.4):

* ``GET /v3/customers/attributes?name=`` lists attributes, filtered by exact name;
* ``POST /v3/customers/attributes`` with ``[{name, type}]`` defines them, at most 50 per store (422 past);
* ``PUT /v3/customers/attribute-values`` upserts ``[{attribute_id, customer_id, value}]``, at most 10 per
  call (422 otherwise); a customer the store does not have, an unknown attribute or a value over
  255 characters fails the whole call with 422, as one bad item does live;
* ``GET /v3/customers/attribute-values?customer_id:in=&attribute_id:in=`` and
  ``DELETE /v3/customers/attribute-values?id:in=``.

Auth, recording, scripted responses and rate-limit headers are the base fake's.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Response, request

from tests.fakes.bigcommerce_api import FakeBigCommerce
from tests.fakes.server import scripted_response as _response

MAX_ATTRIBUTES = 50
MAX_VALUES_PER_CALL = 10


@dataclass
class _StoreAttributes:
    attributes: dict[int, dict[str, Any]] = field(default_factory=dict)
    values: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)


class Attributes:
    """The attribute state of every store of one fake, and every upsert body received."""

    def __init__(self, fake: FakeBigCommerce) -> None:
        self.fake = fake
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._stores: dict[str, _StoreAttributes] = {}
            self.upserts: list[list[dict[str, Any]]] = []
            # Statuses for the next upsert calls, in order (None: answer normally); see fail_upserts.
            self._upsert_script: list[int | None] = []
            self.created: list[dict[str, Any]] = []
            self._next_id = 1

    # -- what tests look at

    def attributes(self, store_hash: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._state(store_hash).attributes.values()))

    def value(self, store_hash: str, attribute_name: str, customer_id: int) -> str | None:
        with self._lock:
            state = self._state(store_hash)
            for attribute_id, attribute in state.attributes.items():
                if attribute["name"] == attribute_name:
                    found = state.values.get((attribute_id, customer_id))
                    return str(found["value"]) if found else None
        return None

    def fail_upserts(self, *statuses: int | None) -> None:
        """Answer the next upsert calls with these statuses in turn (None lets that call through)."""
        with self._lock:
            self._upsert_script.extend(statuses)

    def set_value(self, store_hash: str, attribute_id: int, customer_id: int, value: str) -> None:
        with self._lock:
            state = self._state(store_hash)
            state.values[(attribute_id, customer_id)] = {
                "id": self._next_id,
                "attribute_id": attribute_id,
                "customer_id": customer_id,
                "value": value,
            }
            self._next_id += 1

    def add_attribute(self, store_hash: str, name: str, type: str = "string") -> int:
        with self._lock:
            return self._create(self._state(store_hash), name, type)["id"]  # type: ignore[no-any-return]

    # -- plumbing

    def _state(self, store_hash: str) -> _StoreAttributes:
        return self._stores.setdefault(store_hash, _StoreAttributes())

    def _create(self, state: _StoreAttributes, name: str, type: str) -> dict[str, Any]:
        attribute = {"id": self._next_id, "name": name, "type": type, "date_created": "2026-01-01T00:00:00Z"}
        self._next_id += 1
        state.attributes[attribute["id"]] = attribute
        return attribute

    def _customers(self, store_hash: str) -> set[int]:
        return set(self.fake._store(store_hash).customers)

    def list_attributes(self, store_hash: str) -> Response:
        name = request.args.get("name")
        with self._lock:
            found = [
                copy.deepcopy(a) for a in self._state(store_hash).attributes.values() if not name or a["name"] == name
            ]
        return _page(found)

    def create_attributes(self, store_hash: str) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, list) or not body:
            return _error(422, "body must be a non-empty array")
        with self._lock:
            state = self._state(store_hash)
            if len(state.attributes) + len(body) > MAX_ATTRIBUTES:
                return _error(422, "a store can have at most 50 customer attributes")
            made = [self._create(state, str(item.get("name")), str(item.get("type"))) for item in body]
            self.created.extend(copy.deepcopy(made))
        return _page(copy.deepcopy(made))

    def list_values(self, store_hash: str) -> Response:
        customers = _ids(request.args.get("customer_id:in"))
        attributes = _ids(request.args.get("attribute_id:in"))
        with self._lock:
            found = [
                copy.deepcopy(v)
                for (attribute_id, customer_id), v in sorted(self._state(store_hash).values.items())
                if (not customers or customer_id in customers) and (not attributes or attribute_id in attributes)
            ]
        return _page(found)

    def upsert_values(self, store_hash: str) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, list) or not body:
            return _error(422, "body must be a non-empty array")
        if len(body) > MAX_VALUES_PER_CALL:
            return _error(422, "at most 10 attribute values per request")
        with self._lock:
            scripted = self._upsert_script.pop(0) if self._upsert_script else None
            if scripted is not None:
                return _error(scripted, "scripted failure")
            state = self._state(store_hash)
            known = self._customers(store_hash)
            for item in body:
                if item.get("customer_id") not in known:
                    return _error(422, f"customer {item.get('customer_id')} does not exist")
                if item.get("attribute_id") not in state.attributes:
                    return _error(422, f"attribute {item.get('attribute_id')} does not exist")
                if not isinstance(item.get("value"), str) or len(item["value"]) > 255:
                    return _error(422, "value must be a string of at most 255 characters")
            self.upserts.append(copy.deepcopy(body))
            written = []
            for item in body:
                key = (item["attribute_id"], item["customer_id"])
                existing = state.values.get(key)
                value = {
                    "id": existing["id"] if existing else self._next_id,
                    "attribute_id": item["attribute_id"],
                    "customer_id": item["customer_id"],
                    "value": item["value"],
                }
                if not existing:
                    self._next_id += 1
                state.values[key] = value
                written.append(copy.deepcopy(value))
        return _page(written)

    def delete_values(self, store_hash: str) -> Response:
        ids = _ids(request.args.get("id:in"))
        if not ids:
            return _error(422, "id:in is required")
        with self._lock:
            state = self._state(store_hash)
            state.values = {k: v for k, v in state.values.items() if v["id"] not in ids}
        return _response(204, None)


def install(fake: FakeBigCommerce) -> Attributes:
    """Add the attribute endpoints to ``fake`` (before it serves anything) and return their state."""
    attributes = Attributes(fake)
    app = fake.app
    path = "/stores/<store_hash>/v3/customers/attributes"
    app.add_url_rule(path, "list_attributes", attributes.list_attributes, methods=["GET"])
    app.add_url_rule(path, "create_attributes", attributes.create_attributes, methods=["POST"])
    path = "/stores/<store_hash>/v3/customers/attribute-values"
    app.add_url_rule(path, "list_attribute_values", attributes.list_values, methods=["GET"])
    app.add_url_rule(path, "upsert_attribute_values", attributes.upsert_values, methods=["PUT"])
    app.add_url_rule(path, "delete_attribute_values", attributes.delete_values, methods=["DELETE"])
    return attributes


def _ids(raw: str | None) -> set[int]:
    return {int(part) for part in (raw or "").split(",") if part.strip().isdigit()}


def _page(items: list[dict[str, Any]]) -> Response:
    pagination = {"total": len(items), "count": len(items), "per_page": 50, "current_page": 1, "total_pages": 1}
    return _response(200, {"data": items, "meta": {"pagination": pagination}})


def _error(status: int, title: str) -> Response:
    return _response(status, {"status": status, "title": title, "type": "about:blank"})
