"""A small typed client for Shopify's GraphQL Admin API, paced by its cost-based rate limit.

Shopify meters GraphQL per app and shop with a leaky bucket of points (``extensions.cost`` in every
response). A request that costs more than the bucket holds is answered with HTTP 200 and a ``THROTTLED``
error, so throttling is read from the body, not the status. The client therefore:

* remembers the bucket from each response and, before sending a query it has sent before, waits until
  the bucket (refilled at ``restoreRate`` since then) covers that query's last requested cost;
* on ``THROTTLED`` sleeps exactly long enough for the requested cost to be restored, then asks again;
* retries 429, 5xx, timeouts and dropped connections with exponential backoff and jitter;
* never waits more than ``max_wait`` seconds in total for one call: past that it raises
  :class:`TransientPlatformError` (with ``retry_after``), so the RQ job is retried later rather than a
  worker being held.

The access token and customer data never appear in logs or exception messages: errors name the
operation, the status and Shopify's own error messages, never the variables.

One client serves one shop and is not thread-safe (one per worker job, like the BigCommerce client).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from integration.core.telemetry import api_call, api_waited
from integration.platforms.interfaces import NotFoundAtPlatform, PlatformRefused, TransientPlatformError
from integration.platforms.shopify.queries import (
    API_VERSION_RE,
    CUSTOMER_QUERY,
    CUSTOMER_SUMMARY_QUERY,
    CUSTOMERS_UPDATED_SINCE_QUERY,
    DISCOUNT_CODE_MUTATION,
    EMAIL_CONSENT_MUTATION,
    METAFIELDS_SET_MUTATION,
    ORDER_QUERY,
    ORDERS_UPDATED_SINCE_QUERY,
    TAGS_ADD_MUTATION,
    TAGS_REMOVE_MUTATION,
    CustomerSummary,
    Page,
    UpdatedResource,
    as_consent,
    as_count,
    as_list,
    as_money,
    as_number,
    customer_gid,
    gid_of,
    graphql_errors,
    numeric_id,
    retry_after_header,
    short_text,
    tag_list,
)
from integration.platforms.shopify.topics import parse_timestamp, valid_shop_domain

log = logging.getLogger(__name__)

# (connect, read) seconds: a hung Shopify must not hold an RQ worker for minutes.
TIMEOUT = (5.0, 30.0)
# Shopify answers a THROTTLED error even when the computed wait rounds to zero (another app on the shop
# drained the bucket meanwhile); a floor keeps the retry loop from spinning.
MIN_THROTTLE_WAIT = 0.25
BACKOFF_BASE = 0.5  # seconds before the 2nd attempt; doubled for each further one
MAX_PAGE_SIZE = 250  # Shopify's cap on `first` for a connection


# GraphQL error codes worth asking again for (Shopify sends these with HTTP 200).
_RETRYABLE_CODES = frozenset({"INTERNAL_SERVER_ERROR"})


class ShopifyAPIError(PlatformRefused):
    """A permanent refusal (401/403, a GraphQL error, userErrors): retrying the same call will not help.

    ``status`` is the HTTP status; ``codes`` the GraphQL ``extensions.code`` values; ``user_errors`` the
    mutation's ``(field path, message)`` pairs, for callers that want to tell cases apart.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        codes: Sequence[str] = (),
        user_errors: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.codes = tuple(codes)
        self.user_errors = tuple(user_errors)


# ------------------------------------------------------------------------------------------ client


@dataclass
class _Bucket:
    """The shop's bucket as the last response described it, and when (our monotonic clock)."""

    available: float
    maximum: float
    restore_rate: float
    seen_at: float

    def available_at(self, now: float) -> float:
        return min(self.maximum, self.available + self.restore_rate * max(now - self.seen_at, 0.0))


class _Budget:
    """The waiting one call may still do; asking for more raises instead of sleeping."""

    def __init__(self, max_wait: float, sleep: Callable[[float], None]) -> None:
        self.left = max_wait
        self._max_wait = max_wait
        self._sleep = sleep

    def wait(self, seconds: float, why: str) -> None:
        if seconds <= 0:
            return
        if seconds > self.left:
            # Sleeping part of the way and then failing would only waste the worker's time.
            raise TransientPlatformError(
                f"Shopify: {why}; waiting {seconds:.1f} s more would pass the {self._max_wait:.0f} s limit",
                retry_after=seconds,
            )
        self.left -= seconds
        api_waited("shopify", seconds)
        self._sleep(seconds)


class ShopifyGraphQL:
    """POSTs GraphQL to ``{admin_url}/admin/api/{version}/graphql.json`` for one shop."""

    def __init__(
        self,
        admin_url_template: str,
        shop: str,
        access_token: str,
        api_version: str,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        max_wait: float = 60.0,
        max_attempts: int = 5,
        on_bucket: Callable[[float, float], None] | None = None,
    ) -> None:
        # The shop ends up in the URL the token is sent to, so only a plain *.myshopify.com gets through.
        if not valid_shop_domain(shop):
            raise ValueError("shop must be a <name>.myshopify.com domain")
        if not API_VERSION_RE.match(api_version):
            raise ValueError("api_version must look like 2026-10 or be 'unstable'")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.shop = shop
        self.endpoint = f"{admin_url_template.format(shop=shop).rstrip('/')}/admin/api/{api_version}/graphql.json"
        self._token = access_token
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._sleep = sleep
        self._monotonic = monotonic
        self._max_wait = max_wait
        self._max_attempts = max_attempts
        self._bucket: _Bucket | None = None
        self._on_bucket = on_bucket  # told (available, maximum) each time a response reports the bucket
        # requestedQueryCost last seen per query text: the estimate for pacing the next similar call.
        self._last_cost: dict[str, float] = {}
        self._random = random.Random()  # noqa: S311 - jitter spreads retries; it guards nothing

    def __repr__(self) -> str:
        return f"ShopifyGraphQL(shop={self.shop!r})"  # never the token

    def uses_token(self, access_token: str) -> bool:
        return self._token == access_token

    def close(self) -> None:
        """Close the session if this client made it (an injected one belongs to the caller)."""
        if self._owns_session:
            self._session.close()

    # -- domain calls

    def customer_summary(self, customer_id: str) -> CustomerSummary:
        data = self.execute(CUSTOMER_SUMMARY_QUERY, {"id": customer_gid(customer_id)}, operation="customer")
        customer = data.get("customer")
        if customer is None:
            raise NotFoundAtPlatform(f"Shopify customer {numeric_id(customer_id)} not found")
        if not isinstance(customer, Mapping):
            raise ShopifyAPIError("Shopify customer: unexpected response shape")
        return CustomerSummary(
            customer_id=numeric_id(customer_id),
            number_of_orders=as_count(customer.get("numberOfOrders")),
            amount_spent=as_money(customer.get("amountSpent")),
            tags=tuple(t for t in as_list(customer.get("tags")) if isinstance(t, str)),
            email_marketing_consent=as_consent(customer.get("emailMarketingConsent")),
            sms_marketing_consent=as_consent(customer.get("smsMarketingConsent")),
            updated_at=parse_timestamp(customer.get("updatedAt")),
        )

    def order(self, order_id: str) -> Mapping[str, Any]:
        """The GraphQL order node (shape: ORDER_QUERY). Raises NotFoundAtPlatform when it is gone."""
        return self._node(ORDER_QUERY, "order", gid_of("Order", order_id))

    def customer(self, customer_id: str) -> Mapping[str, Any]:
        """The GraphQL customer node (shape: CUSTOMER_QUERY). Raises NotFoundAtPlatform when it is gone."""
        return self._node(CUSTOMER_QUERY, "customer", customer_gid(customer_id))

    def orders_updated_since(self, since: dt.datetime, after: str | None = None, first: int = 50) -> Page:
        return self._updated_since(ORDERS_UPDATED_SINCE_QUERY, "orders", since, after, first)

    def customers_updated_since(self, since: dt.datetime, after: str | None = None, first: int = 50) -> Page:
        return self._updated_since(CUSTOMERS_UPDATED_SINCE_QUERY, "customers", since, after, first)

    def tags_add(self, customer_id: str, tags: Sequence[str]) -> None:
        self._mutate(TAGS_ADD_MUTATION, "tagsAdd", {"id": customer_gid(customer_id), "tags": tag_list(tags)})

    def tags_remove(self, customer_id: str, tags: Sequence[str]) -> None:
        self._mutate(TAGS_REMOVE_MUTATION, "tagsRemove", {"id": customer_gid(customer_id), "tags": tag_list(tags)})

    def email_marketing_consent_update(self, customer_id: str, state: str, at: str) -> None:
        """Set the customer's email marketing state (``SUBSCRIBED`` / ``UNSUBSCRIBED``) as of ``at`` (ISO 8601)."""
        consent = {"marketingState": state, "marketingOptInLevel": "SINGLE_OPT_IN", "consentUpdatedAt": at}
        self._mutate(
            EMAIL_CONSENT_MUTATION,
            "customerEmailMarketingConsentUpdate",
            {"input": {"customerId": customer_gid(customer_id), "emailMarketingConsent": consent}},
        )

    def discount_code_basic_create(self, discount: Mapping[str, Any]) -> None:
        self._mutate(DISCOUNT_CODE_MUTATION, "discountCodeBasicCreate", {"discount": dict(discount)})

    def metafield_set(self, customer_id: str, namespace: str, key: str, type: str, value: str) -> str | None:
        """Create or overwrite one customer metafield; returns its GID (None if Shopify sent none)."""
        metafield = {"ownerId": customer_gid(customer_id), "namespace": namespace, "key": key}
        payload = self._mutate(
            METAFIELDS_SET_MUTATION, "metafieldsSet", {"metafields": [{**metafield, "type": type, "value": value}]}
        )
        for item in as_list(payload.get("metafields")):
            if isinstance(item, Mapping) and isinstance(item.get("id"), str):
                return str(item["id"])
        return None

    # -- the one way to talk to Shopify

    def execute(
        self, query: str, variables: Mapping[str, Any] | None = None, *, operation: str = "query"
    ) -> dict[str, Any]:
        """Run one GraphQL document and return its ``data``; waits and retries as the module describes.

        ``operation`` names the call in errors and logs (the query text and variables never appear).
        Raises TransientPlatformError, ShopifyAPIError.
        """
        budget = _Budget(self._max_wait, self._sleep)
        failures = 0
        just_throttled = False
        while True:
            if not just_throttled:  # the throttle wait already covered what pacing would wait for
                self._pace(query, operation, budget)
            just_throttled = False
            try:
                response = self._session.post(
                    self.endpoint,
                    json={"query": query, "variables": dict(variables or {})},
                    headers={"X-Shopify-Access-Token": self._token, "Accept": "application/json"},
                    timeout=TIMEOUT,
                )
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                # The exception text holds the URL and socket detail; the class name is enough to act on.
                api_call("shopify", "error")
                failures += 1
                self._after_failure(operation, type(exc).__name__, failures, None, budget)
                continue

            status = response.status_code
            api_call("shopify", status)
            if status == 429 or status >= 500:
                failures += 1
                retry_after = retry_after_header(response.headers) if status == 429 else None
                self._after_failure(operation, f"HTTP {status}", failures, retry_after, budget)
                continue
            if status in (401, 403):
                log.warning("Shopify %s: %s answered %s (token refused or scope missing)", self.shop, operation, status)
                raise ShopifyAPIError(f"Shopify {operation}: HTTP {status}, access refused", status=status)
            if status >= 400:
                log.warning("Shopify %s: %s answered %s", self.shop, operation, status)
                raise ShopifyAPIError(f"Shopify {operation}: HTTP {status}", status=status)
            try:
                body = response.json()
            except ValueError:
                # A 2xx that is not JSON is a proxy or maintenance page, not an answer: ask again.
                failures += 1
                self._after_failure(operation, f"HTTP {status} not JSON", failures, None, budget)
                continue
            if not isinstance(body, Mapping):
                raise ShopifyAPIError(f"Shopify {operation}: unexpected response shape", status=status)

            cost = self._note_cost(query, body)
            errors = graphql_errors(body.get("errors"))
            codes = [code for _message, code in errors if code]
            if "THROTTLED" in codes:
                budget.wait(self._throttle_wait(cost, operation), f"{operation} throttled")
                just_throttled = True
                continue
            if any(code in _RETRYABLE_CODES for code in codes):
                failures += 1
                self._after_failure(operation, "internal error", failures, None, budget)
                continue
            if errors:
                messages = "; ".join(message for message, _code in errors)
                raise ShopifyAPIError(f"Shopify {operation}: {messages}", status=status, codes=codes)
            data = body.get("data")
            if not isinstance(data, Mapping):
                raise ShopifyAPIError(f"Shopify {operation}: response without data", status=status)
            return dict(data)

    # -- plumbing

    def _updated_since(self, query: str, root: str, since: dt.datetime, after: str | None, first: int) -> Page:
        if since.tzinfo is None:
            # Shopify reads an offset-less time in the shop's own zone: refuse rather than guess.
            raise ValueError("since must be timezone-aware")
        if not 1 <= first <= MAX_PAGE_SIZE:
            raise ValueError(f"first must be between 1 and {MAX_PAGE_SIZE}")
        # Whole seconds, rounded down: a reconciliation sweep may see a record twice, never miss one.
        stamp = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        variables = {"first": first, "after": after, "query": f"updated_at:>'{stamp}'"}
        data = self.execute(query, variables, operation=root)
        connection = data.get(root)
        if not isinstance(connection, Mapping):
            raise ShopifyAPIError(f"Shopify {root}: unexpected response shape")
        items = []
        for node in as_list(connection.get("nodes")):
            if not isinstance(node, Mapping):
                continue
            legacy_id = node.get("legacyResourceId")
            updated_at = parse_timestamp(node.get("updatedAt"))
            if isinstance(legacy_id, str | int) and not isinstance(legacy_id, bool) and updated_at is not None:
                items.append(UpdatedResource(id=str(legacy_id), updated_at=updated_at))
        page_info = connection.get("pageInfo")
        page_info = page_info if isinstance(page_info, Mapping) else {}
        end_cursor = page_info.get("endCursor")
        return Page(
            items=tuple(items),
            has_next=page_info.get("hasNextPage") is True,
            end_cursor=end_cursor if isinstance(end_cursor, str) else None,
        )

    def _node(self, query: str, root: str, gid: str) -> Mapping[str, Any]:
        data = self.execute(query, {"id": gid}, operation=root)
        node = data.get(root)
        if node is None:
            raise NotFoundAtPlatform(f"Shopify {root} {gid.rsplit('/', 1)[-1]} not found")
        if not isinstance(node, Mapping):
            raise ShopifyAPIError(f"Shopify {root}: unexpected response shape")
        return node

    def _mutate(self, mutation: str, root: str, variables: Mapping[str, Any]) -> Mapping[str, Any]:
        data = self.execute(mutation, variables, operation=root)
        payload = data.get(root)
        if not isinstance(payload, Mapping):
            raise ShopifyAPIError(f"Shopify {root}: unexpected response shape")
        user_errors = [
            (".".join(str(part) for part in as_list(e.get("field"))), short_text(e.get("message")))
            for e in as_list(payload.get("userErrors"))
            if isinstance(e, Mapping)
        ]
        if user_errors:
            detail = "; ".join(f"{field}: {message}" if field else message for field, message in user_errors)
            raise ShopifyAPIError(f"Shopify {root} refused: {detail}", user_errors=user_errors)
        return payload

    def _pace(self, query: str, operation: str, budget: _Budget) -> None:
        """Wait until the bucket should hold what this query cost last time, instead of being throttled."""
        bucket = self._bucket
        expected = self._last_cost.get(query)
        if bucket is None or expected is None or bucket.restore_rate <= 0 or expected > bucket.maximum:
            return
        shortfall = expected - bucket.available_at(self._monotonic())
        if shortfall > 0:
            delay = shortfall / bucket.restore_rate
            log.info("Shopify %s: API bucket low before %s; waiting %.2f s", self.shop, operation, delay)
            budget.wait(delay, f"{operation} rate limit bucket low")

    def _note_cost(self, query: str, body: Mapping[str, Any]) -> float | None:
        """Remember the bucket and this query's requested cost; returns that cost."""
        extensions = body.get("extensions")
        cost = extensions.get("cost") if isinstance(extensions, Mapping) else None
        if not isinstance(cost, Mapping):
            return None
        requested = as_number(cost.get("requestedQueryCost"))
        if requested is not None:
            self._last_cost[query] = requested
        status = cost.get("throttleStatus")
        if isinstance(status, Mapping):
            available = as_number(status.get("currentlyAvailable"))
            maximum = as_number(status.get("maximumAvailable"))
            rate = as_number(status.get("restoreRate"))
            if available is not None and maximum is not None and rate is not None:
                self._bucket = _Bucket(available, maximum, rate, self._monotonic())
                if self._on_bucket is not None:
                    self._on_bucket(available, maximum)
        return requested

    def _throttle_wait(self, requested: float | None, operation: str) -> float:
        bucket = self._bucket
        if requested is None or bucket is None or bucket.restore_rate <= 0:
            # THROTTLED without usable cost figures: fall back to a guess rather than hammer the shop.
            return 1.0
        if requested > bucket.maximum:
            # No amount of waiting fills the bucket beyond its size.
            raise ShopifyAPIError(f"Shopify {operation}: query cost exceeds the bucket size", codes=["THROTTLED"])
        delay = max((requested - bucket.available) / bucket.restore_rate, MIN_THROTTLE_WAIT)
        log.info("Shopify %s: %s throttled; waiting %.2f s for the bucket to refill", self.shop, operation, delay)
        return delay

    def _after_failure(
        self, operation: str, what: str, failures: int, retry_after: float | None, budget: _Budget
    ) -> None:
        """Back off before the next attempt, or raise TransientPlatformError when attempts run out."""
        log.warning(
            "Shopify %s: %s failed (%s), attempt %d of %d", self.shop, operation, what, failures, self._max_attempts
        )
        if failures >= self._max_attempts:
            raise TransientPlatformError(
                f"Shopify {operation}: {what} after {failures} attempts", retry_after=retry_after
            )
        if retry_after is not None:
            delay = retry_after  # Shopify said when; earlier would only be refused again
        else:
            backoff = BACKOFF_BASE * 2 ** (failures - 1)
            # Jitter keeps workers that failed together from retrying in lockstep.
            delay = backoff + self._random.uniform(0, backoff / 2)
        budget.wait(delay, f"{operation} {what}")
