"""A real-HTTP fake of Shopify's GraphQL Admin API, for tests that want the wire, not a mock.

``FakeShopify`` serves a small Flask app from a background thread on 127.0.0.1 (OS-assigned port). What it
imitates, and why:

* ``POST /{shop}/admin/api/{version}/graphql.json``: pass :attr:`FakeShopify.admin_url_template`
  (``http://127.0.0.1:PORT/{shop}``) as the client's ``admin_url_template``, so the shop in the URL
  picks the store exactly as the host does live. ``POST /admin/api/{version}/graphql.json`` (no shop
  prefix; ``admin_url_template=fake.url``) also works: the shop is then the one the token belongs to.
* ``X-Shopify-Access-Token`` must be the token given to :meth:`add_shop` (401 otherwise), so a token
  sent to the wrong shop fails here as it does live.
* Operations are recognised by the root field after the first ``{`` of the document (``customer``,
  ``customers``, ``orders``, ``tagsAdd``, ``tagsRemove``, ``metafieldsSet``), and their arguments are
  read from ``variables`` only. Every node is returned whole, whatever the selection set asks for.
* A leaky bucket per shop (``bucket_size`` points, ``restore_rate`` per second of :attr:`clock`, cost
  per root field in :attr:`costs`) answers an over-budget request with HTTP 200 and a ``THROTTLED``
  error, ``extensions.cost`` included. Set :attr:`clock` to the test's fake monotonic clock so the
  bucket refills when the client "sleeps".
* :meth:`queue_response` scripts one-shot answers (before auth and the bucket); :attr:`requests`
  records every request and :attr:`mutations` every mutation that was applied.

Others add endpoints (OAuth, webhook subscriptions) on :attr:`FakeShopify.app`; the token check and
recording apply to any path under ``/admin/api/``, and ``flask.g.shop`` names the authenticated shop.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import json
import re
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlencode

import jwt
from flask import Response, g, redirect, request
from jwt.warnings import InsecureKeyLengthWarning

from tests.fakes.server import FakeServer
from tests.fakes.server import scripted_response as _response

ROOT_FIELD_RE = re.compile(r"\s*(\w+)\s*[({]")
UPDATED_SINCE_RE = re.compile(r"updated_at:>'([^']+)'")
ADMIN_API_RE = re.compile(r"^(?:/(?P<shop>[^/]+))?/admin/api/(?P<version>[^/]+)/")
GRAPHQL_PATH = r"/graphql\.json$"

DEFAULT_COSTS = {
    "customer": 2,
    "order": 10,
    "customers": 12,
    "orders": 12,
    "tagsAdd": 10,
    "tagsRemove": 10,
    "metafieldsSet": 10,
    "webhookSubscriptions": 5,
    "webhookSubscriptionCreate": 10,
    "shop": 1,
}
ONLINE_TOKEN = "urn:shopify:params:oauth:token-type:online-access-token"
OFFLINE_TOKEN = "urn:shopify:params:oauth:token-type:offline-access-token"


class RecordedRequest(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON (None if the body was not JSON)
    root_field: str | None


class AppliedMutation(NamedTuple):
    shop: str
    root_field: str
    variables: dict[str, Any]


@dataclass
class _Scripted:
    pattern: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class _Shop:
    token: str
    available: float
    refilled_at: float
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    metafields: dict[str, dict[tuple[str, str], dict[str, Any]]] = field(default_factory=dict)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


def default_shop_facts(shop: str) -> dict[str, Any]:
    """The ``shop`` node a new fake shop answers (GraphQL field names), like a new US dev store's."""
    return {
        "name": shop.split(".")[0].replace("-", " ").title(),
        "ianaTimezone": "America/New_York",
        "currencyCode": "USD",
        "email": f"owner@{shop.split('.')[0]}.example.com",
        "primaryDomain": {"host": shop, "url": f"https://{shop}"},
    }


class FakeShopify(FakeServer):
    """Shopify's Admin API on ``self.url``; see the module docstring for the two URL styles."""

    name = "fake-shopify"

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self._install_hooks()
        self.app.add_url_rule("/admin/api/<version>/graphql.json", "graphql", self._graphql, methods=["POST"])
        self.app.add_url_rule(
            "/<shop>/admin/api/<version>/graphql.json", "graphql_for_shop", self._graphql, methods=["POST"]
        )
        self.oauth = FakeShopifyOAuth(self)
        self.reset()

    # -- lifecycle

    @property
    def admin_url_template(self) -> str:
        """``http://127.0.0.1:PORT/{shop}``: the shop-prefixed style, formatted by the client."""
        return self.url + "/{shop}"

    def reset(self) -> None:
        """Forget shops, data, scripts and records; back to a Standard plan bucket on the real clock."""
        with self._lock:
            self._shops: dict[str, _Shop] = {}
            self._scripted: list[_Scripted] = []
            self.requests: list[RecordedRequest] = []
            self.mutations: list[AppliedMutation] = []
            self.bucket_size = 1000.0
            self.restore_rate = 100.0  # points per second (Standard plan)
            self.costs: dict[str, int] = dict(DEFAULT_COSTS)
            self._clock: Callable[[], float] = time.monotonic
            if hasattr(self, "oauth"):
                self.oauth.reset()

    @property
    def clock(self) -> Callable[[], float]:
        """Seconds on which the bucket refills; tests share their fake ``monotonic`` with the client."""
        return self._clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        # Existing buckets restart from "now" on the new clock, so switching clocks neither fills nor
        # freezes them.
        with self._lock:
            self._clock = clock
            for state in self._shops.values():
                state.refilled_at = clock()

    # -- data

    def add_shop(self, shop: str, token: str) -> None:
        """A shop with a full bucket (and :func:`default_shop_facts`)."""
        with self._lock:
            self._shops[shop] = _Shop(token, self.bucket_size, self.clock(), facts=default_shop_facts(shop))

    def set_shop_facts(self, shop: str, **fields: Any) -> None:
        """Change what the ``shop`` query answers (``ianaTimezone="Europe/Berlin"``, ``email=...``)."""
        with self._lock:
            self._shop(shop).facts.update(copy.deepcopy(fields))

    def revoke(self, shop: str) -> None:
        """What uninstalling the app does: the shop's token is refused (401) from now on."""
        with self._lock:
            self._shop(shop).token = ""

    def add_customer(self, shop: str, customer_id: str | int, **fields: Any) -> dict[str, Any]:
        """A customer with GraphQL field names (``numberOfOrders``, ``amountSpent``, ``tags``, ...)."""
        customer_id = str(customer_id)
        customer: dict[str, Any] = {
            "id": f"gid://shopify/Customer/{customer_id}",
            "legacyResourceId": customer_id,
            "numberOfOrders": "0",
            "amountSpent": {"amount": "0.0", "currencyCode": "USD"},
            "tags": [],
            "emailMarketingConsent": {
                "marketingState": "NOT_SUBSCRIBED",
                "marketingOptInLevel": "SINGLE_OPT_IN",
                "consentUpdatedAt": None,
            },
            "smsMarketingConsent": None,
            "updatedAt": "2026-01-01T00:00:00Z",
        }
        customer.update(copy.deepcopy(fields))
        # UnsignedInt64 travels as a string of digits.
        customer["numberOfOrders"] = str(customer["numberOfOrders"])
        with self._lock:
            self._shop(shop).customers[customer_id] = customer
        return copy.deepcopy(customer)

    def add_order(self, shop: str, order_id: str | int, updated_at: str, **fields: Any) -> None:
        order_id = str(order_id)
        order = {"id": f"gid://shopify/Order/{order_id}", "legacyResourceId": order_id, "updatedAt": updated_at}
        order.update(copy.deepcopy(fields))
        with self._lock:
            self._shop(shop).orders[order_id] = order

    def customer(self, shop: str, customer_id: str | int) -> dict[str, Any]:
        """The stored customer as it is now (after any mutations)."""
        with self._lock:
            return copy.deepcopy(self._shop(shop).customers[str(customer_id)])

    def tags(self, shop: str, customer_id: str | int) -> list[str]:
        return list(self.customer(shop, customer_id)["tags"])

    def metafields(self, shop: str, customer_id: str | int) -> dict[tuple[str, str], dict[str, Any]]:
        """``{(namespace, key): {"type", "value", ...}}`` set on the customer through metafieldsSet."""
        with self._lock:
            return copy.deepcopy(self._shop(shop).metafields.get(str(customer_id), {}))

    def set_available(self, shop: str, points: float) -> None:
        """Put the shop's bucket at ``points`` now (to fake other apps having spent it)."""
        with self._lock:
            state = self._shop(shop)
            state.available = points
            state.refilled_at = self.clock()

    def queue_response(
        self,
        status: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        *,
        path_regex: str = GRAPHQL_PATH,
    ) -> None:
        """Answer the next request whose path matches ``path_regex`` with this, once, before auth and
        the bucket. ``body``: JSON-able value, str/bytes sent as is, or None (empty)."""
        with self._lock:
            self._scripted.append(_Scripted(re.compile(path_regex), status, body, dict(headers or {})))

    def graphql_requests(self, root_field: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [
                r
                for r in self.requests
                if r.path.endswith("/graphql.json") and (root_field is None or r.root_field == root_field)
            ]

    # -- plumbing

    def _shop(self, shop: str) -> _Shop:
        try:
            return self._shops[shop]
        except KeyError:
            raise KeyError(f"call add_shop({shop!r}, token) first") from None

    def _take_scripted(self, path: str) -> _Scripted | None:
        with self._lock:
            for index, scripted in enumerate(self._scripted):
                if scripted.pattern.search(path):
                    return self._scripted.pop(index)
        return None

    def _install_hooks(self) -> None:
        @self.app.before_request
        def record_script_and_authenticate() -> Response | None:
            body = request.get_json(silent=True)
            query = body.get("query") if isinstance(body, dict) else None
            with self._lock:
                self.requests.append(
                    RecordedRequest(
                        request.method,
                        request.path,
                        dict(request.headers),
                        body,
                        root_field(query) if isinstance(query, str) else None,
                    )
                )
            scripted = self._take_scripted(request.path)
            if scripted is not None:
                return _response(scripted.status, scripted.body, scripted.headers)
            return self._authenticate()

    def _authenticate(self) -> Response | None:
        match = ADMIN_API_RE.match(request.path)
        if match is None:  # OAuth-style endpoints added by others do their own checks
            return None
        token = request.headers.get("X-Shopify-Access-Token")
        with self._lock:
            if match.group("shop") is not None:
                shop = match.group("shop")
                known = self._shops.get(shop)
                ok = known is not None and token == known.token
            else:
                found = [name for name, s in self._shops.items() if token is not None and s.token == token]
                shop = found[0] if found else ""
                ok = bool(found)
        if not ok:
            # Shopify's own 401 body: a bare string under "errors".
            return _response(
                401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
            )
        g.shop = shop
        return None

    def _graphql(self, version: str, shop: str | None = None) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _response(400, {"errors": {"query": "Required parameter missing or invalid"}})
        root = root_field(body["query"])
        variables = body.get("variables") or {}
        handler = {
            "customer": self._customer,
            "order": self._order,
            "customers": self._customers,
            "orders": self._orders,
            "tagsAdd": self._tags_add,
            "tagsRemove": self._tags_remove,
            "metafieldsSet": self._metafields_set,
            "customerEmailMarketingConsentUpdate": self._email_consent_update,
            "discountCodeBasicCreate": self._discount_code_create,
            "webhookSubscriptions": self._webhook_subscriptions,
            "webhookSubscriptionCreate": self._webhook_subscription_create,
            "shop": self._shop_node,
        }.get(root or "")
        if handler is None:
            error = {
                "message": f"Field '{root}' doesn't exist on type 'QueryRoot'",
                "extensions": {"code": "undefinedField"},
            }
            return _response(200, {"errors": [error]})
        with self._lock:
            state = self._shop(g.shop)
            cost = self._spend(state, root or "")
            if cost["actualQueryCost"] is None:
                error = {
                    "message": "Throttled",
                    "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
                }
                return _response(200, {"errors": [error], "extensions": {"cost": cost}})
            data = handler(g.shop, state, variables)
        return _response(200, {"data": {root: data}, "extensions": {"cost": cost}})

    def _spend(self, state: _Shop, root: str) -> dict[str, Any]:
        """Refill the bucket for the time gone by, then take this query's cost if it fits."""
        now = self.clock()
        state.available = min(self.bucket_size, state.available + self.restore_rate * max(now - state.refilled_at, 0))
        state.refilled_at = now
        requested = self.costs.get(root, 1)
        actual: int | None = None
        if state.available >= requested:
            state.available -= requested
            actual = requested
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": self.bucket_size,
                "currentlyAvailable": state.available,
                "restoreRate": self.restore_rate,
            },
        }

    # -- operations (called with the lock held)

    def _customer(self, shop: str, state: _Shop, variables: Mapping[str, Any]) -> Any:
        customer = state.customers.get(_legacy_id(variables.get("id"), "Customer"))
        return copy.deepcopy(customer) if customer is not None else None

    def _order(self, shop: str, state: _Shop, variables: Mapping[str, Any]) -> Any:
        order = state.orders.get(_legacy_id(variables.get("id"), "Order"))
        return copy.deepcopy(order) if order is not None else None

    def _shop_node(self, shop: str, state: _Shop, variables: Mapping[str, Any]) -> Any:
        return copy.deepcopy(state.facts)

    def _customers(self, shop: str, state: _Shop, variables: Mapping[str, Any]) -> Any:
        return _connection(list(state.customers.values()), variables)

    def _orders(self, shop: str, state: _Shop, variables: Mapping[str, Any]) -> Any:
        return _connection(list(state.orders.values()), variables)

    def _tags_add(self, shop: str, state: _Shop, variables: Mapping[str, Any]) -> Any:
        return self._retag(shop, state, variables, "tagsAdd")

    def _tags_remove(self, shop: str, state: _Shop, variables: Mapping[str, Any]) -> Any:
        return self._retag(shop, state, variables, "tagsRemove")

    def _retag(self, shop: str, state: _Shop, variables: Mapping[str, Any], root: str) -> Any:
        customer = state.customers.get(_legacy_id(variables.get("id"), "Customer"))
        if customer is None:
            return {"node": None, "userErrors": [{"field": ["id"], "message": "Resource not found"}]}
        tags = variables.get("tags")
        # Shopify also takes one comma-separated string.
        given = tags.split(",") if isinstance(tags, str) else list(tags or [])
        given = [str(t).strip() for t in given if str(t).strip()]
        current = set(customer["tags"])
        customer["tags"] = sorted(current | set(given) if root == "tagsAdd" else current - set(given))
        self.mutations.append(AppliedMutation(shop, root, copy.deepcopy(dict(variables))))
        return {"node": {"id": customer["id"]}, "userErrors": []}

    def _email_consent_update(self, shop: str, state: _Shop, variables: Mapping[str, Any]) -> Any:
        given = variables.get("input") or {}
        customer_id = str(given.get("customerId", "")).rpartition("/")[2]
        customer = state.customers.get(customer_id)
        if customer is None:
            return {
                "customer": None,
                "userErrors": [{"field": ["customerId"], "message": "Customer not found", "code": "INVALID"}],
            }
        consent = given.get("emailMarketingConsent") or {}
        if consent.get("marketingState") not in ("SUBSCRIBED", "UNSUBSCRIBED", "PENDING"):
            return {
                "customer": None,
                "userErrors": [{"field": ["marketingState"], "message": "invalid", "code": "INCLUSION"}],
            }
        customer["emailMarketingConsent"] = {
            "marketingState": consent["marketingState"],
            "marketingOptInLevel": consent.get("marketingOptInLevel"),
            "consentUpdatedAt": consent.get("consentUpdatedAt"),
        }
        self.mutations.append(
            AppliedMutation(shop, "customerEmailMarketingConsentUpdate", copy.deepcopy(dict(variables)))
        )
        return {"customer": {"id": customer["id"]}, "userErrors": []}

    def _discount_code_create(self, shop: str, state: _Shop, variables: Mapping[str, Any]) -> Any:
        discount = variables.get("basicCodeDiscount") or variables.get("discount") or {}
        code = discount.get("code")
        taken = any(m.root_field == "discountCodeBasicCreate" and m.variables["discount"]["code"] == code
                    for m in self.mutations if m.shop == shop)  # fmt: skip
        if not code or taken:
            error = {"field": ["basicCodeDiscount", "code"], "message": "Code must be unique", "code": "TAKEN"}
            return {"codeDiscountNode": None, "userErrors": [error]}
        self.mutations.append(AppliedMutation(shop, "discountCodeBasicCreate", copy.deepcopy(dict(variables))))
        return {"codeDiscountNode": {"id": f"gid://shopify/DiscountCodeNode/{len(self.mutations)}"}, "userErrors": []}

    def _metafields_set(self, shop: str, state: _Shop, variables: Mapping[str, Any]) -> Any:
        inputs = variables.get("metafields") or []
        errors = []
        for index, item in enumerate(inputs):
            for name in ("ownerId", "namespace", "key", "type", "value"):
                if not item.get(name):
                    errors.append(
                        {
                            "field": ["metafields", str(index), name],
                            "message": f"{name} can't be blank",
                            "code": "BLANK",
                        }
                    )
            if item.get("ownerId") and _legacy_id(item["ownerId"], "Customer") not in state.customers:
                errors.append(
                    {
                        "field": ["metafields", str(index), "ownerId"],
                        "message": "Owner does not exist",
                        "code": "INVALID",
                    }
                )
        if errors:  # metafieldsSet is atomic: one bad input and nothing is written
            return {"metafields": [], "userErrors": errors}
        written = []
        for item in inputs:
            owner = _legacy_id(item["ownerId"], "Customer")
            stored = state.metafields.setdefault(owner, {})
            key = (item["namespace"], item["key"])
            existing = stored.get(key)
            number = (
                existing["id"] if existing else f"gid://shopify/Metafield/{sum(map(len, state.metafields.values()))}"
            )
            stored[key] = {
                "id": number,
                "namespace": item["namespace"],
                "key": item["key"],
                "type": item["type"],
                "value": item["value"],
            }
            written.append(copy.deepcopy(stored[key]))
        self.mutations.append(AppliedMutation(shop, "metafieldsSet", copy.deepcopy(dict(variables))))
        return {"metafields": written, "userErrors": []}

    def _webhook_subscriptions(self, shop: str, state: _Shop, variables: Mapping[str, Any]) -> Any:
        first = int(variables.get("first") or 50)
        start = int(variables.get("after") or 0)
        page = state.subscriptions[start : start + first]
        more = start + first < len(state.subscriptions)
        return {
            "nodes": copy.deepcopy(page),
            "pageInfo": {"hasNextPage": more, "endCursor": str(start + first) if more else None},
        }

    def _webhook_subscription_create(self, shop: str, state: _Shop, variables: Mapping[str, Any]) -> Any:
        topic = variables.get("topic")
        given = variables.get("webhookSubscription") or {}
        uri = given.get("uri") if isinstance(given, Mapping) else None
        if topic in self.refused_topics:
            return {"webhookSubscription": None, "userErrors": [{"field": ["topic"], "message": "Access denied"}]}
        if not isinstance(topic, str) or not re.fullmatch(r"[A-Z_]+", topic) or not isinstance(uri, str) or not uri:
            return {"webhookSubscription": None, "userErrors": [{"field": ["uri"], "message": "Address is invalid"}]}
        if any(sub["topic"] == topic and sub["uri"] == uri for sub in state.subscriptions):
            return {
                "webhookSubscription": None,
                "userErrors": [{"field": ["uri"], "message": "Address for this topic has already been taken"}],
            }
        sub = {"id": f"gid://shopify/WebhookSubscription/{len(state.subscriptions) + 1}", "topic": topic, "uri": uri}
        state.subscriptions.append(sub)
        self.mutations.append(AppliedMutation(shop, "webhookSubscriptionCreate", copy.deepcopy(dict(variables))))
        return {"webhookSubscription": copy.deepcopy(sub), "userErrors": []}

    def subscriptions(self, shop: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._shop(shop).subscriptions)

    @property
    def refused_topics(self) -> set[str]:
        """GraphQL topics (``ORDERS_CREATE``) whose webhookSubscriptionCreate answers a userError."""
        return self.oauth.refused_topics


class FakeShopifyOAuth:
    """Shopify's OAuth endpoints on the fake, for the install flow and token refresh.

    * ``GET /{shop}/admin/oauth/authorize``: as if the merchant approved at once, redirects to
      ``redirect_uri`` with ``code``, ``hmac``, ``host``, ``shop``, ``state`` and ``timestamp``, signed
      with the app secret like Shopify (hex HMAC over the sorted query).
    * ``POST /{shop}/admin/oauth/access_token``: the code grant (each code once; ``expiring=1`` gives an
      hour-long token and a refresh token) and ``grant_type=refresh_token`` (rotating: the refresh token
      used is spent; a spent or unknown one is ``400 invalid_grant``). Calls are counted per grant type.
      A granted token is what the fake's Admin API then accepts for the shop. Token exchange
      (``grant_type=urn:ietf:params:oauth:grant-type:token-exchange``) takes a session token the app
      secret signed for this shop: ``requested_token_type`` offline (the default, as Shopify documents)
      answers like the code grant with ``expiring=1``; online answers a 24-hour user token with
      ``associated_user`` (:meth:`add_user`, else a made-up staff member; :attr:`owner_id` is the account
      owner) and leaves the shop's offline token alone. Counted as ``token_exchange`` and
      ``online_token_exchange``.
    * ``GET /{shop}/admin/apps/{api_key}``: Shopify admin opening the embedded app: redirects to
      ``{app_url}/shopify/app`` with an App Bridge session token (``id_token``) for :attr:`user_id`.
    """

    def __init__(self, fake: FakeShopify) -> None:
        self.fake = fake
        app = fake.app
        app.add_url_rule("/<shop>/admin/oauth/authorize", "oauth_authorize", self._authorize, methods=["GET"])
        app.add_url_rule("/<shop>/admin/oauth/access_token", "oauth_token", self._token, methods=["POST"])
        app.add_url_rule("/<shop>/admin/apps/<api_key>", "admin_app", self._open_app, methods=["GET"])
        self.reset()

    def reset(self) -> None:
        self.api_key = "test-api-key"
        self.secret = ""
        self.app_url = ""
        self.user_id = "7001"
        self.expires_in = 3600
        self.refresh_expires_in = 90 * 24 * 3600
        self.token_delay = 0.0  # seconds each token answer waits (widens race windows)
        self.calls: dict[str, int] = {
            "authorization_code": 0,
            "refresh_token": 0,
            "token_exchange": 0,
            "online_token_exchange": 0,
        }
        self.owner_id = "7001"  # the shop's account owner (associated_user.account_owner)
        self.users: dict[str, dict[str, Any]] = {}
        self.online_refused: int | None = None  # answer online exchanges with this status
        self.not_installed: set[str] = set()  # shops that removed the app: token exchange refused
        self.refused_topics: set[str] = set()
        self._codes: dict[str, str] = {}
        self._refresh: dict[str, str] = {}  # shop -> the one live refresh token
        self._serial = 0
        self.authorize_requests: list[dict[str, str]] = []

    def configure(self, *, api_key: str, secret: str, app_url: str = "") -> None:
        self.api_key, self.secret, self.app_url = api_key, secret, app_url

    def issue_code(self, shop: str) -> str:
        with self.fake._lock:
            self._serial += 1
            code = f"code-{self._serial}-{shop}"
            self._codes[code] = shop
            return code

    def add_user(self, user_id: str, **fields: Any) -> dict[str, Any]:
        """A staff member as an online token's ``associated_user`` names them (fields override)."""
        with self.fake._lock:
            user = {**self.associated_user(user_id), **fields}
            self.users[user_id] = user
            return dict(user)

    def associated_user(self, user_id: str) -> dict[str, Any]:
        """What an online token says about this user (documented keys; research next-capabilities §1.2)."""
        known = self.users.get(user_id)
        if known is not None:
            return dict(known)
        return {
            "id": int(user_id),
            "first_name": "Staff",
            "last_name": f"Member {user_id}",
            "email": f"staff-{user_id}@example.com",
            "email_verified": True,
            "account_owner": user_id == self.owner_id,
            "locale": "en",
            "collaborator": False,
        }

    def set_refresh_token(self, shop: str, token: str) -> None:
        with self.fake._lock:
            self._refresh[shop] = token

    def signed_query(self, params: Mapping[str, str]) -> dict[str, str]:
        message = "&".join(f"{k}={params[k]}" for k in sorted(params))
        digest = hmac.new(self.secret.encode(), message.encode(), hashlib.sha256).hexdigest()
        return {**params, "hmac": digest}

    def session_token(self, shop: str, user_id: str | None = None, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": f"https://{shop}/admin",
            "dest": f"https://{shop}",
            "aud": self.api_key,
            "sub": user_id or self.user_id,
            "exp": now + 60,
            "nbf": now,
            "iat": now,
            "jti": f"jti-{now}-{self._serial}",
            "sid": "session-1",
        }
        payload.update(claims)
        with warnings.catch_warnings():  # the suite's test secrets are shorter than Shopify's
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            return jwt.encode(payload, self.secret, algorithm="HS256")

    def _authorize(self, shop: str) -> Any:
        args = request.args.to_dict()
        self.authorize_requests.append({**args, "shop": shop})
        if args.get("client_id") != self.api_key or not args.get("redirect_uri") or not args.get("state"):
            return _response(400, {"error": "invalid_request"})
        params = {
            "code": self.issue_code(shop),
            "host": base64.urlsafe_b64encode(f"admin.shopify.com/store/{shop.split('.')[0]}".encode()).decode(),
            "shop": shop,
            "state": args["state"],
            "timestamp": str(int(time.time())),
        }
        return redirect(f"{args['redirect_uri']}?{urlencode(self.signed_query(params))}", code=302)

    def _open_app(self, shop: str, api_key: str) -> Any:
        if api_key != self.api_key or not self.app_url:
            return _response(404, {"errors": "Not Found"})
        host = base64.urlsafe_b64encode(f"admin.shopify.com/store/{shop.split('.')[0]}".encode()).decode()
        query = urlencode({"embedded": "1", "shop": shop, "host": host, "id_token": self.session_token(shop)})
        return redirect(f"{self.app_url}/shopify/app?{query}", code=302)

    def _token(self, shop: str) -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _response(400, {"error": "invalid_request"})
        if body.get("client_id") != self.api_key or body.get("client_secret") != self.secret:
            return _response(401, {"error": "invalid_client"})
        grant = {
            "refresh_token": "refresh_token",
            "urn:ietf:params:oauth:grant-type:token-exchange": "token_exchange",
        }.get(str(body.get("grant_type")), "authorization_code")
        if grant == "token_exchange" and body.get("requested_token_type") == ONLINE_TOKEN:
            grant = "online_token_exchange"
        if self.token_delay:
            time.sleep(self.token_delay)
        with self.fake._lock:
            self.calls[grant] += 1
            if grant == "refresh_token":
                given = body.get("refresh_token")
                if not given or self._refresh.get(shop) != given:
                    return _response(400, {"error": "invalid_grant", "error_description": "refresh token is invalid"})
            elif grant in ("token_exchange", "online_token_exchange"):
                # Shopify accepts a session token its app secret signed, for this shop.
                try:
                    with warnings.catch_warnings():  # the suite's secrets are shorter than real ones
                        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
                        claims = jwt.decode(
                            str(body.get("subject_token")), self.secret, algorithms=["HS256"], audience=self.api_key
                        )
                except jwt.InvalidTokenError:
                    return _response(400, {"error": "invalid_subject_token"})
                if claims.get("dest") != f"https://{shop}" or shop in self.not_installed:
                    return _response(400, {"error": "invalid_subject_token"})
                wanted = body.get("requested_token_type", OFFLINE_TOKEN)
                if wanted == ONLINE_TOKEN:
                    return self._online_token(shop, claims)
                if wanted != OFFLINE_TOKEN:
                    return _response(400, {"error": "invalid_request"})
            else:
                if self._codes.pop(str(body.get("code")), None) != shop:
                    return _response(400, {"error": "invalid_request", "error_description": "code is invalid"})
            self._serial += 1
            access = f"shpat_{self._serial}_{shop.split('.')[0]}"
            answer: dict[str, Any] = {"access_token": access, "scope": "read_orders,read_customers,write_customers"}
            if grant != "authorization_code" or str(body.get("expiring")) == "1":
                refresh = f"shprt_{self._serial}_{shop.split('.')[0]}"
                self._refresh[shop] = refresh
                answer.update(
                    expires_in=self.expires_in,
                    refresh_token=refresh,
                    refresh_token_expires_in=self.refresh_expires_in,
                )
            known = self.fake._shops.get(shop)
            if known is None:
                self.fake.add_shop(shop, access)
            else:
                known.token = access
        return _response(200, answer)

    def _online_token(self, shop: str, claims: Mapping[str, Any]) -> Any:
        """An online (per-user) token for the session token's user; called with the lock held."""
        if self.online_refused is not None:
            return _response(self.online_refused, {"error": "invalid_subject_token"})
        self._serial += 1
        access = f"shpua_{self._serial}_{shop.split('.')[0]}"
        return _response(200, _online_answer(access, self.associated_user(str(claims.get("sub")))))


def _online_answer(access: str, user: dict[str, Any]) -> dict[str, Any]:
    scope = "read_orders,read_customers,write_customers"
    return {
        "access_token": access,
        "scope": scope,
        "expires_in": 86399,
        "associated_user_scope": scope,
        "associated_user": user,
    }


def root_field(query: str) -> str | None:
    """The first field inside the operation's selection set (``customer`` in ``query X { customer(...``)."""
    start = query.find("{")
    if start < 0:
        return None
    match = ROOT_FIELD_RE.match(query, start + 1)
    return match.group(1) if match else None


def _legacy_id(gid: object, kind: str) -> str:
    prefix = f"gid://shopify/{kind}/"
    return gid[len(prefix) :] if isinstance(gid, str) and gid.startswith(prefix) else ""


def _parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _cursor(node: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps([node["updatedAt"], node["legacyResourceId"]]).encode()).decode()


def _sort_key(node: Mapping[str, Any]) -> tuple[dt.datetime, int]:
    return _parse_time(node["updatedAt"]), int(node["legacyResourceId"])


def _connection(nodes: list[dict[str, Any]], variables: Mapping[str, Any]) -> dict[str, Any]:
    """``sortKey: UPDATED_AT`` paging with an opaque cursor; only ``updated_at:>'...'`` is understood."""
    match = UPDATED_SINCE_RE.search(str(variables.get("query") or ""))
    if match is not None:
        since = _parse_time(match.group(1))
        nodes = [n for n in nodes if _parse_time(n["updatedAt"]) > since]
    nodes = sorted(nodes, key=_sort_key)
    after = variables.get("after")
    if after:
        updated_at, legacy_id = json.loads(base64.urlsafe_b64decode(after))
        mark = (_parse_time(updated_at), int(legacy_id))
        nodes = [n for n in nodes if _sort_key(n) > mark]
    first = int(variables.get("first") or 50)
    page = nodes[:first]
    return {
        "nodes": copy.deepcopy(page),
        "pageInfo": {"hasNextPage": len(nodes) > first, "endCursor": _cursor(page[-1]) if page else None},
    }
