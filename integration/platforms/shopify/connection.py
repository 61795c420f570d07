"""One Shopify shop's Admin API, as every job other than event processing uses it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import requests
from redis import Redis
from redis.exceptions import RedisError

from integration.core.config import Settings
from integration.core.runtime import Runtime
from integration.platforms.catalogue import CatalogueProduct
from integration.platforms.interfaces import (
    BadPayload,
    ChangeFeed,
    ConsentTarget,
    PlatformRefused,
    ShopAccess,
    ShopFacts,
    ShopRefused,
    SubscriptionReport,
)
from integration.platforms.shopify.catalogue import shopify_products
from integration.platforms.shopify.change_feed import ShopifyFeed
from integration.platforms.shopify.client import ShopifyAPIError, ShopifyGraphQL
from integration.platforms.shopify.facts import shopify_shop_facts
from integration.platforms.shopify.queries import customer_gid
from integration.platforms.shopify.subscriptions import ensure_subscriptions
from integration.platforms.shopify.writer import ShopifyWriter


def graphql_client(
    settings: Settings, access: ShopAccess, *, session: requests.Session | None = None, redis: Redis | None = None
) -> ShopifyGraphQL:
    """The shop's GraphQL client; with ``redis`` it reports the shop's bucket for ops (:func:`budget_left`)."""
    if not access.access_token:
        raise BadPayload(f"shop {access.shop_id} has no access token")
    return ShopifyGraphQL(
        settings.shopify_admin_url,
        access.identifier,
        access.access_token,
        settings.shopify_api_version,
        session=session,
        on_bucket=_reporter(redis, access.identifier) if redis is not None else None,
    )


BUCKET_TTL = 600  # seconds: an old reading is no reading (the bucket refills in well under a minute)


def bucket_key(shop: str) -> str:
    return f"pc:shopify:{shop}:bucket"


def _reporter(redis: Redis, shop: str) -> Callable[[float, float], None]:
    def report(available: float, maximum: float) -> None:
        try:
            redis.hset(bucket_key(shop), mapping={"available": available, "maximum": maximum})
            redis.expire(bucket_key(shop), BUCKET_TTL)
        except RedisError:
            pass  # a reading for ops only: never a reason for the call to fail

    return report


def budget_left(redis: Redis, shop: str) -> str | None:
    """The shop's GraphQL points left as the last response reported them (None: no call lately)."""
    available, maximum = redis.hmget(bucket_key(shop), "available", "maximum")
    if available is None or maximum is None:
        return None
    return f"{int(float(available))} of {int(float(maximum))} points left"


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class ShopifyConnection:
    def __init__(self, runtime: Runtime, access: ShopAccess, http: requests.Session | None = None) -> None:
        self.settings = runtime.settings
        self.client = graphql_client(runtime.settings, access, session=http, redis=runtime.redis)

    def change_feed(self) -> ChangeFeed:
        return ShopifyFeed(self.client)

    def products(self, product_ids: Sequence[str]) -> dict[str, CatalogueProduct]:
        return shopify_products(self.client, product_ids)

    def writer(self) -> ShopifyWriter:
        return ShopifyWriter(self.client)

    def ensure_subscriptions(self, webhook_token: str | None) -> SubscriptionReport:
        # Shopify signs deliveries with the app secret: no per-shop token is involved.
        return ensure_subscriptions(self.client, self.settings)

    def token_accepted(self) -> bool:
        try:
            self.client.execute("query AppInstalled { shop { id } }", operation="installed check")
        except ShopifyAPIError as exc:
            # An error at HTTP 200 (a GraphQL error), 402 (frozen), 403 or 423 (locked) all come after
            # Shopify recognised the token; only 401 (revoked) and 404 (no such shop) mean it is gone.
            return exc.status not in (401, 404)
        return True

    def shop_facts(self) -> ShopFacts:
        return shopify_shop_facts(self.client)

    def set_email_marketing(self, target: ConsentTarget, subscribed: bool, at: dt.datetime) -> bool:
        if not target.platform_customer_id:
            return False  # a Shopify customer is written by id; a guest we only know by email has no record
        state = "SUBSCRIBED" if subscribed else "UNSUBSCRIBED"
        moment = at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        try:
            self.client.email_marketing_consent_update(target.platform_customer_id, state, moment)
        except ShopifyAPIError as exc:
            if exc.status in (401, 403) or "ACCESS_DENIED" in exc.codes:
                raise ShopRefused(str(exc)) from exc
            raise
        return True

    def create_discount_code(self, target: ConsentTarget, code: str, percent: int, ends_at: dt.datetime) -> None:
        if not target.platform_customer_id:
            raise PlatformRefused("a Shopify code is limited to a customer record; this customer has none")
        discount = {
            "title": f"Thank you {code}",
            "code": code,
            "startsAt": _iso(dt.datetime.now(dt.UTC)),
            "endsAt": _iso(ends_at),
            "usageLimit": 1,
            "appliesOncePerCustomer": True,
            # Limited to this one customer (context replaces the deprecated customerSelection).
            "context": {"customers": {"add": [customer_gid(target.platform_customer_id)]}},
            # A fraction, not a percentage: 15 % is 0.15.
            "customerGets": {"value": {"percentage": round(percent / 100, 4)}, "items": {"all": True}},
        }
        try:
            self.client.discount_code_basic_create(discount)
        except ShopifyAPIError as exc:
            if exc.status in (401, 403) or "ACCESS_DENIED" in exc.codes:
                raise ShopRefused(str(exc)) from exc
            raise

    def close(self) -> None:
        self.client.close()
