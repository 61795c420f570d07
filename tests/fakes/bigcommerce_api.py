"""A real-HTTP fake of the BigCommerce REST API, for tests that want the wire, not a mock.

``FakeBigCommerce`` serves a small Flask app from a background thread on 127.0.0.1 (OS-assigned port),
so code under test talks to it with its own ``requests`` session exactly as it would to
``https://api.bigcommerce.com``. What it imitates, and why:

* ``/stores/{hash}/...`` needs ``X-Auth-Token`` equal to the token given to :meth:`add_store`
  (401 otherwise), because a token sent to the wrong store must fail in tests as it does live.
* every response carries the ``X-Rate-Limit-*`` headers, from attributes a test can change to fake a
  nearly spent quota;
* v2 collections answer an empty result (or a page past the end) with 204 No Content, as v2 does;
* v3 customers are a filtered list (``id:in``) whose ``addresses`` appear only with ``include=addresses``;
* optionally (:meth:`FakeBigCommerce.enable_quota`) a real per-store quota: requests counted per window,
  ``X-Rate-Limit-Requests-Left`` counting down, 429 with ``X-Retry-After`` once spent. The peak number of
  calls in flight per store is recorded (:meth:`FakeBigCommerce.max_in_flight`), and
  :attr:`FakeBigCommerce.request_delay` stalls each store call so that calls overlap.

Other parts of the suite add their own endpoints on :attr:`FakeBigCommerce.app` (a Flask app); auth,
recording, scripted responses and rate-limit headers apply to those too. Sample data comes from the
copies of the research samples in ``tests/fixtures/bigcommerce`` (see :func:`load_fixture`).
"""

from __future__ import annotations

import copy
import datetime as dt
import email.utils
import json
import math
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from flask import Response, g, request

from tests.fakes.server import FakeServer
from tests.fakes.server import scripted_response as _response

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bigcommerce"

V2_DEFAULT_LIMIT = 50
V2_MAX_LIMIT = 250


def load_fixture(name: str) -> Any:
    """A fresh copy of ``tests/fixtures/bigcommerce/{name}`` (tests may mutate what they get)."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def sample_order(**overrides: Any) -> dict[str, Any]:
    """The documented "Get an Order" example (order 218, status 7, customer 11), with overrides."""
    order: dict[str, Any] = load_fixture("bigcommerce_order_v2.json")
    order.update(overrides)
    return order


def sample_coupons() -> list[dict[str, Any]]:
    coupons: list[dict[str, Any]] = load_fixture("bigcommerce_order_v2_coupons.json")
    return coupons


def sample_products() -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = load_fixture("bigcommerce_order_v2_products.json")
    return products


def sample_shipping_addresses() -> list[dict[str, Any]]:
    addresses: list[dict[str, Any]] = load_fixture("bigcommerce_order_v2_shipping_addresses.json")
    return addresses


def sample_customer(customer_id: int, **overrides: Any) -> dict[str, Any]:
    """The documented v3 customer example. The official example has no ``id`` or dates; the id is added
    here because the API always sends it, the dates only when a test passes them."""
    customer: dict[str, Any] = load_fixture("bigcommerce_customer_v3.json")["data"][0]
    customer["id"] = customer_id
    for address in customer.get("addresses", []):
        address["customer_id"] = customer_id
    customer.update(overrides)
    return customer


def sample_store(store_hash: str, **overrides: Any) -> dict[str, Any]:
    """The documented "Get Store Information" example (``reference/store_information.v2.yml``: zone
    America/Chicago, currency USD, ``admin_email``, domain ``my-awesome.store``), for this store."""
    store: dict[str, Any] = load_fixture("bigcommerce_store_v2.json")
    store["id"] = store_hash
    store.update(overrides)
    return store


def sample_shipment(**overrides: Any) -> dict[str, Any]:
    """A v2 shipment for order 218. No official example was saved; this one follows the documented
    field list (id, order_id, date_created, tracking_number, shipping_provider, tracking_carrier, ...)."""
    shipment: dict[str, Any] = load_fixture("bigcommerce_order_v2_shipment.json")
    shipment.update(overrides)
    return shipment


class RecordedRequest(NamedTuple):
    method: str
    path: str  # without the query string
    headers: dict[str, str]
    query: dict[str, str]


@dataclass
class _Scripted:
    method: str
    pattern: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: Any
    delay: float


@dataclass
class _Window:
    ends: float  # time.monotonic()
    used: int


@dataclass
class _Store:
    token: str
    orders: dict[int, dict[str, Any]]
    products: dict[int, list[dict[str, Any]]]
    shipping_addresses: dict[int, list[dict[str, Any]]]
    shipments: dict[tuple[int, int], dict[str, Any]]
    customers: dict[int, dict[str, Any]]
    info: dict[str, Any]  # GET /v2/store
    order_coupons: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # GET /v2/orders/{id}/coupons


class FakeBigCommerce(FakeServer):
    """The BigCommerce API on ``self.url``: use it as the ``api_url`` of the code under test."""

    name = "fake-bigcommerce"

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self._install_hooks()
        self._install_quota_hooks()
        self._install_routes()
        self.reset()

    # -- lifecycle

    def reset(self) -> None:
        """Forget stores, data, scripts and recorded requests; put the quota back to a fresh window."""
        with self._lock:
            self._stores: dict[str, _Store] = {}
            self._scripted: list[_Scripted] = []
            self.requests: list[RecordedRequest] = []
            self.rate_limit_quota = 150
            self.rate_limit_left = 150
            self.rate_limit_window_ms = 30000
            self.rate_limit_reset_ms = 30000
            self.extra_headers: dict[str, str] = {}
            self.subscribers: dict[tuple[str, int], dict[str, Any]] = {}
            self.coupons: dict[str, list[dict[str, Any]]] = {}
            self._quota: tuple[int, float] | None = None  # (requests, window seconds) when enforced
            self._windows: dict[str, _Window] = {}
            self._rate_limited: dict[str, int] = {}
            self._in_flight: dict[str, int] = {}
            self._max_in_flight: dict[str, int] = {}
            self.request_delay = 0.0
            self.hooks: dict[str, dict[int, dict[str, Any]]] = {}  # store hash -> hook id -> hook
            self._next_hook_id = 1000

    # -- data

    def add_store(self, store_hash: str, token: str) -> None:
        with self._lock:
            self._stores[store_hash] = _Store(token, {}, {}, {}, {}, {}, sample_store(store_hash))

    def set_store_info(self, store_hash: str, **fields: Any) -> None:
        """Change what ``GET /v2/store`` answers (``timezone={"name": ...}``, ``admin_email=...``)."""
        with self._lock:
            self._store(store_hash).info.update(copy.deepcopy(fields))

    def revoke(self, store_hash: str) -> None:
        """What uninstalling the app does: the store's token is refused (401) from now on."""
        with self._lock:
            self._store(store_hash).token = ""

    def add_order(
        self,
        store_hash: str,
        order: Mapping[str, Any],
        products: Sequence[Mapping[str, Any]] | None = None,
        shipping_addresses: Sequence[Mapping[str, Any]] | None = None,
        coupons: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        order_id = int(order["id"])
        with self._lock:
            store = self._store(store_hash)
            store.orders[order_id] = copy.deepcopy(dict(order))
            store.order_coupons[order_id] = [{**c, "order_id": order_id} for c in copy.deepcopy(coupons or [])]
            # The documentation's examples belong to different orders; here they belong to this one.
            store.products[order_id] = [{**p, "order_id": order_id} for p in copy.deepcopy(products or [])]
            store.shipping_addresses[order_id] = [
                {**a, "order_id": order_id} for a in copy.deepcopy(shipping_addresses or [])
            ]

    def add_customer(self, store_hash: str, customer: Mapping[str, Any]) -> None:
        with self._lock:
            self._store(store_hash).customers[int(customer["id"])] = copy.deepcopy(dict(customer))

    def add_shipment(self, store_hash: str, order_id: int, shipment: Mapping[str, Any]) -> None:
        with self._lock:
            stored = {**copy.deepcopy(dict(shipment)), "order_id": order_id}
            self._store(store_hash).shipments[(order_id, int(shipment["id"]))] = stored

    def queue_response(
        self,
        method: str,
        path_regex: str,
        status: int,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        *,
        delay: float = 0.0,
    ) -> None:
        """Answer the next ``method`` request whose path matches ``path_regex`` (re.search) with this,
        once, before auth and routing. ``body``: JSON-able value, str/bytes sent as is, or None.
        ``delay``: seconds to stall first (to make a client time out)."""
        with self._lock:
            self._scripted.append(
                _Scripted(method.upper(), re.compile(path_regex), status, dict(headers or {}), body, delay)
            )

    def enable_quota(self, quota: int, window_ms: int) -> None:
        """Enforce ``quota`` requests per store per window, the window starting at the first request after
        the previous one ended; past it, 429 with ``X-Retry-After`` (whole seconds, rounded up)."""
        with self._lock:
            self._quota = (quota, window_ms / 1000.0)
            self._windows = {}

    def rate_limited(self, store_hash: str) -> int:
        """How many 429s the quota mode served to ``store_hash``."""
        with self._lock:
            return self._rate_limited.get(store_hash, 0)

    def max_in_flight(self, store_hash: str) -> int:
        """The most calls to ``store_hash`` that were being served at once."""
        with self._lock:
            return self._max_in_flight.get(store_hash, 0)

    def requests_to(self, path_regex: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if re.search(path_regex, r.path)]

    # -- plumbing

    def _store(self, store_hash: str) -> _Store:
        try:
            return self._stores[store_hash]
        except KeyError:
            raise KeyError(f"call add_store({store_hash!r}, token) first") from None

    def _take_scripted(self, method: str, path: str) -> _Scripted | None:
        with self._lock:
            for index, scripted in enumerate(self._scripted):
                if scripted.method == method and scripted.pattern.search(path):
                    return self._scripted.pop(index)
        return None

    def _rate_limit_headers(self) -> dict[str, str]:
        with self._lock:
            return {
                "X-Rate-Limit-Requests-Quota": str(self.rate_limit_quota),
                "X-Rate-Limit-Requests-Left": str(self.rate_limit_left),
                "X-Rate-Limit-Time-Window-Ms": str(self.rate_limit_window_ms),
                "X-Rate-Limit-Time-Reset-Ms": str(self.rate_limit_reset_ms),
                **self.extra_headers,
            }

    def _install_hooks(self) -> None:
        @self.app.before_request
        def record_script_and_authenticate() -> Response | None:
            with self._lock:
                self.requests.append(
                    RecordedRequest(request.method, request.path, dict(request.headers), request.args.to_dict())
                )
            scripted = self._take_scripted(request.method, request.path)
            if scripted is not None:
                time.sleep(scripted.delay)
                return _response(scripted.status, scripted.body, scripted.headers)
            return self._authenticate(request.path, request.headers.get("X-Auth-Token"))

        @self.app.after_request
        def add_rate_limit_headers(response: Response) -> Response:
            for name, value in self._rate_limit_headers().items():
                if name not in response.headers:  # a scripted response's own headers win
                    response.headers[name] = value
            return response

        @self.app.errorhandler(404)
        def not_found(_error: Exception) -> Response:
            return _not_found(request.path)

    def _install_quota_hooks(self) -> None:
        # Registered after _install_hooks: runs only for authenticated, unscripted calls, and its headers
        # are set before the static ones (after_request hooks run in reverse order).
        @self.app.before_request
        def count_in_flight_and_enforce_quota() -> Response | None:
            match = re.match(r"/stores/([^/]+)/", request.path)
            if match is None:
                return None
            store_hash = match.group(1)
            with self._lock:
                g.fake_bc_store = store_hash
                in_flight = self._in_flight.get(store_hash, 0) + 1
                self._in_flight[store_hash] = in_flight
                self._max_in_flight[store_hash] = max(self._max_in_flight.get(store_hash, 0), in_flight)
                delay = self.request_delay
                limited = self._spend_quota(store_hash)
            if delay:
                time.sleep(delay)
            return limited

        @self.app.after_request
        def add_quota_headers(response: Response) -> Response:
            for name, value in getattr(g, "fake_bc_quota_headers", {}).items():
                response.headers[name] = value
            return response

        @self.app.teardown_request
        def leave(_error: BaseException | None) -> None:
            store_hash = getattr(g, "fake_bc_store", None)
            if store_hash is not None:
                with self._lock:
                    self._in_flight[store_hash] = self._in_flight.get(store_hash, 1) - 1

    def _spend_quota(self, store_hash: str) -> Response | None:
        """Count one request against the store's window (lock held); a 429 when it is spent."""
        if self._quota is None:
            return None
        quota, window = self._quota
        now = time.monotonic()
        current = self._windows.get(store_hash)
        if current is None or now >= current.ends:
            current = self._windows[store_hash] = _Window(ends=now + window, used=0)
        reset_ms = math.ceil((current.ends - now) * 1000)
        headers = {
            "X-Rate-Limit-Requests-Quota": str(quota),
            "X-Rate-Limit-Time-Window-Ms": str(round(window * 1000)),
            "X-Rate-Limit-Time-Reset-Ms": str(reset_ms),
        }
        if current.used >= quota:
            self._rate_limited[store_hash] = self._rate_limited.get(store_hash, 0) + 1
            g.fake_bc_quota_headers = {
                **headers,
                "X-Rate-Limit-Requests-Left": "0",
                "X-Retry-After": str(math.ceil(reset_ms / 1000)),
            }
            return _response(429, {"status": 429, "title": "Too many requests"})
        current.used += 1
        g.fake_bc_quota_headers = {**headers, "X-Rate-Limit-Requests-Left": str(quota - current.used)}
        return None

    def _authenticate(self, path: str, token: str | None) -> Response | None:
        match = re.match(r"/stores/([^/]+)/", path)
        if match is None:  # login.bigcommerce.com-style endpoints added by others do their own checks
            return None
        with self._lock:
            store = self._stores.get(match.group(1))
        if store is None or token != store.token:
            return _response(401, {"status": 401, "title": "Unauthorized", "type": "about:blank"})
        return None

    def _install_routes(self) -> None:
        app = self.app
        app.add_url_rule("/stores/<store_hash>/v2/orders", view_func=self._orders)
        app.add_url_rule("/stores/<store_hash>/v2/orders/<int:order_id>", view_func=self._order)
        app.add_url_rule("/stores/<store_hash>/v2/orders/<int:order_id>/products", view_func=self._products)
        app.add_url_rule("/stores/<store_hash>/v2/orders/<int:order_id>/coupons", view_func=self._order_coupons)
        for name in ("shipping_addresses", "shippingaddresses"):  # the docs and the links use both
            app.add_url_rule(
                f"/stores/<store_hash>/v2/orders/<int:order_id>/{name}",
                endpoint=f"shipping_addresses_{name}",
                view_func=self._shipping_addresses,
            )
        app.add_url_rule("/stores/<store_hash>/v2/orders/<int:order_id>/shipments", view_func=self._shipments)
        app.add_url_rule(
            "/stores/<store_hash>/v2/orders/<int:order_id>/shipments/<int:shipment_id>",
            view_func=self._shipment,
        )
        app.add_url_rule("/stores/<store_hash>/v2/store", view_func=self._store_info)
        app.add_url_rule("/stores/<store_hash>/v3/customers", view_func=self._customers)
        app.add_url_rule("/stores/<store_hash>/v3/customers/subscribers", view_func=self._subscribers)
        app.add_url_rule(
            "/stores/<store_hash>/v3/customers/subscribers/<int:subscriber_id>",
            view_func=self._update_subscriber,
            methods=["PUT"],
        )
        app.add_url_rule("/stores/<store_hash>/v2/coupons", view_func=self._create_coupon, methods=["POST"])
        app.add_url_rule("/stores/<store_hash>/v3/hooks", view_func=self._list_hooks, methods=["GET"])
        app.add_url_rule("/stores/<store_hash>/v3/hooks", view_func=self._create_hook, methods=["POST"])
        app.add_url_rule("/stores/<store_hash>/v3/hooks/<int:hook_id>", view_func=self._update_hook, methods=["PUT"])

    # -- webhooks (/v3/hooks): one per scope + destination, a store's deliveryException at its own destination

    def add_hook(self, store_hash: str, **fields: Any) -> dict[str, Any]:
        """Put a hook on the store as if the app had made it earlier (``scope``, ``destination``, ...)."""
        with self._lock:
            self._store(store_hash)
            hook = self._new_hook(store_hash, fields)
            self.hooks.setdefault(store_hash, {})[hook["id"]] = hook
            return copy.deepcopy(hook)

    def hooks_of(self, store_hash: str) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(h) for _id, h in sorted(self.hooks.get(store_hash, {}).items())]

    def set_hook(self, store_hash: str, hook_id: int, **fields: Any) -> None:
        """Change a stored hook as BigCommerce would (``is_active=False``: deactivated after failures)."""
        with self._lock:
            self.hooks[store_hash][hook_id].update(fields)

    def _new_hook(self, store_hash: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        self._next_hook_id += 1
        now = int(time.time())
        return {
            "id": self._next_hook_id,
            "client_id": "fake-client-id",
            "store_hash": store_hash,
            "scope": fields.get("scope"),
            "destination": fields.get("destination"),
            "headers": fields.get("headers"),
            "is_active": fields.get("is_active", True),
            "created_at": now,
            "updated_at": now,
        }

    def _list_hooks(self, store_hash: str) -> Response:
        hooks = self.hooks_of(store_hash)
        for name in ("scope", "destination"):
            if name in request.args:
                hooks = [h for h in hooks if h[name] == request.args[name]]
        if "is_active" in request.args:
            hooks = [h for h in hooks if h["is_active"] == (request.args["is_active"] == "true")]
        page = max(request.args.get("page", 1, type=int) or 1, 1)
        limit = min(max(request.args.get("limit", V2_DEFAULT_LIMIT, type=int) or V2_DEFAULT_LIMIT, 1), V2_MAX_LIMIT)
        items = hooks[(page - 1) * limit : page * limit]
        pagination = {
            "total": len(hooks),
            "count": len(items),
            "per_page": limit,
            "current_page": page,
            "total_pages": max(math.ceil(len(hooks) / limit), 1),
        }
        return _response(200, {"data": items, "meta": {"pagination": pagination}})

    def _hook_refusal(self, store_hash: str, hook: Mapping[str, Any], hook_id: int | None) -> Response | None:
        """422 for what the API refuses: a missing field, a second hook for one scope + destination, a
        deliveryException hook sharing a destination (or a second one)."""
        if not isinstance(hook.get("scope"), str) or not isinstance(hook.get("destination"), str):
            return _response(422, {"status": 422, "title": "scope and destination are required"})
        others = [h for h in self.hooks.get(store_hash, {}).values() if h["id"] != hook_id]
        if any(h["scope"] == hook["scope"] and h["destination"] == hook["destination"] for h in others):
            return _response(422, {"status": 422, "title": "a webhook for this scope and destination exists"})
        exception = "store/hook/deliveryException"
        for other in others:
            if exception in (hook["scope"], other["scope"]) and other["destination"] == hook["destination"]:
                return _response(422, {"status": 422, "title": "deliveryException needs its own destination"})
            if hook["scope"] == other["scope"] == exception:
                return _response(422, {"status": 422, "title": "one deliveryException hook per store"})
        return None

    def _create_hook(self, store_hash: str) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _response(400, {"status": 400, "title": "body must be a JSON object"})
        with self._lock:
            self._store(store_hash)
            refused = self._hook_refusal(store_hash, body, None)
            if refused is not None:
                return refused
            hook = self._new_hook(store_hash, body)
            self.hooks.setdefault(store_hash, {})[hook["id"]] = hook
            return _response(200, {"data": copy.deepcopy(hook), "meta": {}})

    def _update_hook(self, store_hash: str, hook_id: int) -> Response:
        body = request.get_json(silent=True)
        fields = ("scope", "destination", "is_active", "headers")
        if not isinstance(body, dict) or not any(name in body for name in fields):
            return _response(422, {"status": 422, "title": "Update webhook request should not be empty"})
        with self._lock:
            hook = self.hooks.get(store_hash, {}).get(hook_id)
            if hook is None:
                return _not_found(request.path)
            updated = {**hook, **{name: body[name] for name in fields if name in body}}
            refused = self._hook_refusal(store_hash, updated, hook_id)
            if refused is not None:
                return refused
            updated["updated_at"] = int(time.time())
            hook.update(updated)
            return _response(200, {"data": copy.deepcopy(hook), "meta": {}})

    def _orders(self, store_hash: str) -> Response:
        """The v2 order list as reconciliation reads it: ``min_date_modified``, date order, paged."""
        since = _since(request.args.get("min_date_modified"))
        with self._lock:
            orders = [copy.deepcopy(o) for o in self._store(store_hash).orders.values()]
        orders = [o for o in orders if since is None or _v2_date(o.get("date_modified")) >= since]
        orders.sort(key=lambda o: (_v2_date(o.get("date_modified")), o["id"]))
        return _v2_list(_page(orders))

    def _order(self, store_hash: str, order_id: int) -> Response:
        with self._lock:
            order = self._store(store_hash).orders.get(order_id)
        return _response(200, order) if order is not None else _not_found(request.path)

    def _products(self, store_hash: str, order_id: int) -> Response:
        with self._lock:
            store = self._store(store_hash)
            if order_id not in store.orders:
                return _not_found(request.path)
            products = list(store.products[order_id])
        return _v2_list(_page(products))

    def _order_coupons(self, store_hash: str, order_id: int) -> Response:
        with self._lock:
            store = self._store(store_hash)
            if order_id not in store.orders:
                return _not_found(request.path)
            coupons = list(store.order_coupons.get(order_id, []))
        return _v2_list(_page(coupons))

    def _shipping_addresses(self, store_hash: str, order_id: int) -> Response:
        with self._lock:
            store = self._store(store_hash)
            if order_id not in store.orders:
                return _not_found(request.path)
            addresses = list(store.shipping_addresses[order_id])
        return _v2_list(_page(addresses))

    def _shipments(self, store_hash: str, order_id: int) -> Response:
        with self._lock:
            store = self._store(store_hash)
            if order_id not in store.orders:
                return _not_found(request.path)
            shipments = [s for (oid, _sid), s in sorted(store.shipments.items()) if oid == order_id]
        return _v2_list(_page(shipments))

    def _shipment(self, store_hash: str, order_id: int, shipment_id: int) -> Response:
        with self._lock:
            shipment = self._store(store_hash).shipments.get((order_id, shipment_id))
        return _response(200, shipment) if shipment is not None else _not_found(request.path)

    def _store_info(self, store_hash: str) -> Response:
        with self._lock:
            return _response(200, copy.deepcopy(self._store(store_hash).info))

    def _subscribers(self, store_hash: str) -> Response:
        wanted = {int(i) for i in request.args.get("id:in", "").split(",") if i.strip().isdigit()}
        email = request.args.get("email")
        with self._lock:
            found = [
                copy.deepcopy(s)
                for (store, sid), s in sorted(self.subscribers.items())
                if store == store_hash
                and (not wanted or sid in wanted)
                and (email is None or str(s.get("email", "")).lower() == email.lower())
            ]
        pagination = {"total": len(found), "count": len(found), "per_page": 50, "current_page": 1, "total_pages": 1}
        return _response(200, {"data": found, "meta": {"pagination": pagination}})

    def _create_coupon(self, store_hash: str) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not body.get("code") or not body.get("applies_to"):
            return _response(400, [{"status": 400, "message": "code and applies_to are required"}])
        with self._lock:
            if any(c["code"] == body["code"] for c in self.coupons.get(store_hash, [])):
                return _response(409, [{"status": 409, "message": "The coupon code is already in use"}])
            coupon = {"id": sum(len(v) for v in self.coupons.values()) + 1, **copy.deepcopy(body)}
            self.coupons.setdefault(store_hash, []).append(coupon)
            return _response(201, coupon)

    def _update_subscriber(self, store_hash: str, subscriber_id: int) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _response(422, {"title": "body must be an object"})
        with self._lock:
            subscriber = self.subscribers.get((store_hash, subscriber_id))
            if subscriber is None:
                return _response(404, {"title": "subscriber not found"})
            subscriber.update(copy.deepcopy(body))
            return _response(200, {"data": copy.deepcopy(subscriber), "meta": {}})

    def _customers(self, store_hash: str) -> Response:
        wanted = {int(i) for i in request.args.get("id:in", "").split(",") if i.strip().isdigit()}
        includes = set(request.args.get("include", "").split(","))
        with self._lock:
            customers = self._store(store_hash).customers
            found = [copy.deepcopy(c) for cid, c in sorted(customers.items()) if not wanted or cid in wanted]
        since = _since(request.args.get("date_modified:min"))
        if since is not None:  # reconciliation's filter; v3 dates are ISO 8601
            found = [c for c in found if c.get("date_modified") and _since(c["date_modified"]) >= since]
        if "addresses" not in includes:
            for customer in found:
                customer.pop("addresses", None)
        pagination = {"total": len(found), "count": len(found), "per_page": 50, "current_page": 1}
        return _response(200, {"data": found, "meta": {"pagination": {**pagination, "total_pages": 1}}})


def _since(value: str | None) -> dt.datetime | None:
    """An ISO 8601 filter value (``2026-01-01T00:00:00Z``) as an aware datetime."""
    return dt.datetime.fromisoformat(value) if value else None


def _v2_date(value: object) -> dt.datetime:
    """A v2 RFC 2822 date; a missing one sorts first."""
    if not isinstance(value, str) or not value:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return email.utils.parsedate_to_datetime(value)


def _page(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """v2 page/limit paging (limit defaults to 50, at most 250)."""
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    limit = min(max(request.args.get("limit", V2_DEFAULT_LIMIT, type=int) or V2_DEFAULT_LIMIT, 1), V2_MAX_LIMIT)
    return items[(page - 1) * limit : page * limit]


def _v2_list(items: list[dict[str, Any]]) -> Response:
    return _response(200, items) if items else _response(204, None)


def _not_found(path: str) -> Response:
    if "/v2/" in path:
        return _response(404, [{"status": 404, "message": "The requested resource was not found."}])
    return _response(404, {"status": 404, "title": "The requested resource was not found."})
