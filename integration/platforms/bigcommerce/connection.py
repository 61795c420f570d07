"""One BigCommerce store's API, as every job other than event processing uses it.

Every client built here spends the store's quota and concurrency cap shared through Redis with every other
worker (``rate_budget``): reconciliation, write-back, the catalogue and event processing all draw on one
budget, as the store's API limit is one limit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from email.utils import format_datetime

import requests

from integration.core.runtime import Runtime
from integration.platforms.bigcommerce.catalogue import bigcommerce_products
from integration.platforms.bigcommerce.change_feed import BigCommerceFeed
from integration.platforms.bigcommerce.client import BigCommerceAPIError, BigCommerceClient
from integration.platforms.bigcommerce.facts import bigcommerce_store_facts
from integration.platforms.bigcommerce.hooks import HOOKS_PATH, ensure_hooks
from integration.platforms.bigcommerce.rate_budget import StoreBudget
from integration.platforms.bigcommerce.topics import STORE_HASH_RE
from integration.platforms.bigcommerce.writer import BigCommerceWriter
from integration.platforms.catalogue import CatalogueProduct
from integration.platforms.interfaces import (
    BadPayload,
    ChangeFeed,
    ConsentTarget,
    NotFoundAtPlatform,
    ShopAccess,
    ShopFacts,
    SubscriptionReport,
)


def store_client(runtime: Runtime, access: ShopAccess, *, session: requests.Session | None = None) -> BigCommerceClient:
    if not STORE_HASH_RE.fullmatch(access.identifier):
        raise BadPayload(f"shop {access.shop_id} has no valid BigCommerce store hash")
    if not access.access_token:
        raise BadPayload(f"shop {access.shop_id} has no access token")
    settings = runtime.settings
    budget = StoreBudget(runtime.redis, access.identifier, max_concurrency=settings.bigcommerce_max_concurrency)
    return BigCommerceClient(
        settings.bigcommerce_api_url, access.identifier, access.access_token, session=session, budget=budget
    )


SUBSCRIBERS_PATH = "/v3/customers/subscribers"
NEWSLETTER = "marketing_newsletter"
COUPONS_PATH = "/v2/coupons"


class BigCommerceConnection:
    def __init__(self, runtime: Runtime, access: ShopAccess, http: requests.Session | None = None) -> None:
        self.runtime = runtime
        self.access = access
        self.client = store_client(runtime, access, session=http)

    def change_feed(self) -> ChangeFeed:
        return BigCommerceFeed(self.client)

    def products(self, product_ids: Sequence[str]) -> dict[str, CatalogueProduct]:
        return bigcommerce_products(self.client, product_ids)

    def writer(self) -> BigCommerceWriter:
        return BigCommerceWriter(self.runtime, self.access.shop_id, self.client)

    def ensure_subscriptions(self, webhook_token: str | None) -> SubscriptionReport:
        if not webhook_token:
            # Hooks (re)created without the token would deliver nothing we accept.
            return SubscriptionReport(problems=("no webhook token stored: re-register the store to set one",))
        return ensure_hooks(self.client, self.runtime.settings, webhook_token)

    def token_accepted(self) -> bool:
        # The app's own hooks: readable with the default scope every token has, so a 403 here is not a
        # missing scope but a store that is there and refuses something else.
        try:
            self.client.request("GET", HOOKS_PATH, params={"limit": "1"})
        except NotFoundAtPlatform:
            return False  # no such store
        except BigCommerceAPIError as exc:
            return exc.status != 401
        return True

    def shop_facts(self) -> ShopFacts:
        return bigcommerce_store_facts(self.client)

    def set_email_marketing(self, target: ConsentTarget, subscribed: bool, at: dt.datetime) -> bool:
        # Newsletter consent lives on the store's subscriber (found by email), not on the customer; it has
        # no consent time of its own (our ledger keeps that).
        if not target.email:
            return False
        subscribers, _more = self.client.get_v3_page(SUBSCRIBERS_PATH, {"email": target.email})
        wanted = target.email.strip().lower()
        found = [s for s in subscribers if str(s.get("email", "")).strip().lower() == wanted]
        if not found:
            if not subscribed:
                return False  # not a subscriber: nothing on the platform to take back
            self.client.request("POST", SUBSCRIBERS_PATH, json={"email": target.email, "consents": [NEWSLETTER]})
            return True
        subscriber = found[0]
        consents = [c for c in subscriber.get("consents") or [] if c != NEWSLETTER]
        if subscribed:
            consents.append(NEWSLETTER)
        self.client.request("PUT", f"{SUBSCRIBERS_PATH}/{subscriber['id']}", json={"consents": consents})
        return True

    def create_discount_code(self, target: ConsentTarget, code: str, percent: int, ends_at: dt.datetime) -> None:
        # A V2 coupon cannot be limited to one customer (only by country): it is single-use instead.
        coupon = {
            "name": f"Thank you {code}",
            "code": code,
            "type": "percentage_discount",
            "amount": str(percent),
            "max_uses": 1,
            "max_uses_per_customer": 1,
            "expires": format_datetime(ends_at.astimezone(dt.UTC), usegmt=True),
            "applies_to": {"entity": "categories", "ids": [0]},  # 0: every category
            "enabled": True,
        }
        self.client.request("POST", COUPONS_PATH, json=coupon)

    def close(self) -> None:
        self.client.close()
