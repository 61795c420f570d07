"""Subscription health: each active shop's webhook subscriptions checked, repaired and recorded for ops.

The platform halves (``ensure_subscriptions``, ``ensure_hooks``) are replaced here by stand-ins that
record what they were given; their own tests run them against the fake platforms.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.fernet import Fernet

from integration.core.config import Settings
from integration.core.crypto import TokenCipher
from integration.core.queues import BULK
from integration.core.runtime import Runtime
from integration.platforms.bigcommerce.client import BigCommerceAPIError, BigCommerceClient
from integration.platforms.interfaces import ShopFacts, SubscriptionReport, TransientPlatformError
from integration.platforms.shopify.client import ShopifyAPIError, ShopifyGraphQL
from integration.shops.lifecycle import uninstall
from integration.shops.models import Shop
from integration.shops.subscriptions import check_shop, enqueue_checks, summarise_report
from tests.helpers import STORE_HASH, add_shop, drain, update_shop

# Where each connection looks its ensure function up.
SHOPIFY_ENSURE = "integration.platforms.shopify.connection.ensure_subscriptions"
BIGCOMMERCE_ENSURE = "integration.platforms.bigcommerce.connection.ensure_hooks"
# ... and the shop facts the same check reads (nothing, here: their own tests use the fake platforms).
FACTS = (
    "integration.platforms.shopify.connection.shopify_shop_facts",
    "integration.platforms.bigcommerce.connection.bigcommerce_store_facts",
)
REPAIRED = SubscriptionReport(present=("orders/create", "orders/updated"), created=("customers/update",))


class StandIn:
    """Plays one platform's ensure function: answers ``result`` (or raises it) and keeps the calls."""

    def __init__(self, result: SubscriptionReport | Exception = REPAIRED) -> None:
        self.result = result
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, *args: Any) -> SubscriptionReport:
        self.calls.append(args)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> Callable[..., StandIn]:
    for facts in FACTS:
        monkeypatch.setattr(facts, lambda _client: ShopFacts())

    def install(platform: str, result: SubscriptionReport | Exception = REPAIRED) -> StandIn:
        fake = StandIn(result)
        monkeypatch.setattr(SHOPIFY_ENSURE if platform == "shopify" else BIGCOMMERCE_ENSURE, fake)
        return fake

    return install


def recorded(runtime: Runtime, shop_id: int) -> tuple[Any, dict[str, Any] | None]:
    with runtime.session() as session:
        shop = session.get(Shop, shop_id)
        assert shop is not None
        report = json.loads(shop.subscriptions_report) if shop.subscriptions_report else None
        return shop.subscriptions_checked_at, report


def test_a_shopify_shop_is_checked_and_the_outcome_recorded(runtime: Runtime, stand_in: Callable[..., StandIn]) -> None:
    fake = stand_in("shopify")
    shop = add_shop(runtime, token="shpat_check")
    assert check_shop(runtime, shop.id) == REPAIRED
    ((client, settings),) = fake.calls
    assert isinstance(client, ShopifyGraphQL) and client.shop == shop.identifier and client.uses_token("shpat_check")
    assert isinstance(settings, Settings)
    checked_at, report = recorded(runtime, shop.id)
    assert checked_at is not None
    assert report == {
        "present": ["orders/create", "orders/updated"],
        "created": ["customers/update"],
        "reactivated": [],
        "problems": [],
    }
    with runtime.session() as session:
        row = session.get(Shop, shop.id)
        assert row is not None
        assert summarise_report(row.subscriptions_report) == "2 ok, 1 created, 0 re-activated, 0 problems"


def test_a_bigcommerce_store_gets_its_webhook_token_for_the_hooks(
    runtime: Runtime, stand_in: Callable[..., StandIn]
) -> None:
    report = SubscriptionReport(present=("store/order/*",), reactivated=("store/customer/*",))
    fake = stand_in("bigcommerce", report)
    shop = add_shop(runtime, "bigcommerce", STORE_HASH, "bc_token")
    assert check_shop(runtime, shop.id) == report
    ((client, _settings, webhook_token),) = fake.calls
    assert isinstance(client, BigCommerceClient) and client.uses_token("bc_token")
    assert webhook_token == shop.webhook_token
    assert recorded(runtime, shop.id)[1] == {
        "present": ["store/order/*"],
        "created": [],
        "reactivated": ["store/customer/*"],
        "problems": [],
    }


@pytest.mark.parametrize(
    ("platform", "refusal"),
    [
        ("shopify", ShopifyAPIError("Shopify webhookSubscriptions: access denied", status=403)),
        ("bigcommerce", BigCommerceAPIError("GET", "/v3/hooks", 401)),
    ],
)
def test_a_refusal_is_recorded_for_ops_and_not_raised(
    runtime: Runtime, stand_in: Callable[..., StandIn], platform: str, refusal: Exception
) -> None:
    stand_in(platform, refusal)
    shop = add_shop(runtime, "bigcommerce", STORE_HASH) if platform == "bigcommerce" else add_shop(runtime)
    report = check_shop(runtime, shop.id)
    assert report is not None and report.problems == (f"the platform refused: {refusal}",)
    checked_at, stored = recorded(runtime, shop.id)
    assert checked_at is not None and stored is not None
    assert stored["problems"] == [f"the platform refused: {refusal}"]


def test_a_transient_failure_propagates_and_keeps_the_last_report(
    runtime: Runtime, stand_in: Callable[..., StandIn]
) -> None:
    fake = stand_in("shopify")
    shop = add_shop(runtime)
    check_shop(runtime, shop.id)
    before = recorded(runtime, shop.id)
    fake.result = TransientPlatformError("Shopify answered 503", retry_after=5)
    with pytest.raises(TransientPlatformError):
        check_shop(runtime, shop.id)
    assert recorded(runtime, shop.id) == before


def test_uninstalled_and_unknown_shops_are_not_checked(runtime: Runtime, stand_in: Callable[..., StandIn]) -> None:
    fake = stand_in("shopify")
    shop = add_shop(runtime)
    uninstall(runtime, shop.id)
    assert check_shop(runtime, shop.id) is None
    assert check_shop(runtime, 999_999) is None
    assert fake.calls == []
    assert recorded(runtime, shop.id) == (None, None)


def test_an_unreadable_token_is_a_problem_not_a_crash(runtime: Runtime, stand_in: Callable[..., StandIn]) -> None:
    fake = stand_in("shopify")
    shop = add_shop(runtime)
    foreign = TokenCipher(Fernet.generate_key().decode()).encrypt("shpat_x")
    update_shop(runtime, shop.id, access_token_enc=foreign)
    report = check_shop(runtime, shop.id)
    assert report is not None and "cannot be decrypted" in report.problems[0]
    assert fake.calls == []
    assert recorded(runtime, shop.id)[1]["problems"] == list(report.problems)  # type: ignore[index]


def test_a_bigcommerce_store_without_a_webhook_token_is_not_given_tokenless_hooks(
    runtime: Runtime, stand_in: Callable[..., StandIn]
) -> None:
    fake = stand_in("bigcommerce")
    shop = add_shop(runtime, "bigcommerce", STORE_HASH, webhook_token_enc=None)
    report = check_shop(runtime, shop.id)
    assert report is not None and report.problems == ("no webhook token stored: re-register the store to set one",)
    assert fake.calls == []


def test_the_cron_job_checks_every_active_shop_once(runtime: Runtime, stand_in: Callable[..., StandIn]) -> None:
    shopify, bigcommerce = stand_in("shopify"), stand_in("bigcommerce")
    one = add_shop(runtime)
    two = add_shop(runtime, "bigcommerce", STORE_HASH)
    gone = add_shop(runtime, identifier="gone.myshopify.com")
    uninstall(runtime, gone.id)

    assert enqueue_checks(runtime) == [one.id, two.id]
    assert enqueue_checks(runtime) == []  # still queued: no second job per shop
    assert sorted(runtime.queue(BULK).job_ids) == sorted([f"subscriptions-{one.id}", f"subscriptions-{two.id}"])
    drain(runtime)
    assert (len(shopify.calls), len(bigcommerce.calls)) == (1, 1)
    assert recorded(runtime, one.id)[0] is not None and recorded(runtime, two.id)[0] is not None
    assert recorded(runtime, gone.id) == (None, None)
    assert enqueue_checks(runtime) == [one.id, two.id]  # done: the next run checks them again


def test_the_scheduled_entry_point_fans_out(runtime: Runtime, stand_in: Callable[..., StandIn]) -> None:
    from jobs.shops import check_all_subscriptions, check_shop_subscriptions
    from tests.helpers import job_environment

    stand_in("shopify")
    shop = add_shop(runtime)
    with job_environment(runtime.settings):
        assert check_all_subscriptions() == 1
        assert check_shop_subscriptions(shop.id) == {
            "present": ("orders/create", "orders/updated"),
            "created": ("customers/update",),
            "reactivated": (),
            "problems": (),
        }


def test_uninstall_cancels_a_waiting_check(runtime: Runtime) -> None:
    shop = add_shop(runtime)
    enqueue_checks(runtime)
    assert runtime.queue(BULK).job_ids == [f"subscriptions-{shop.id}"]
    uninstall(runtime, shop.id)
    assert runtime.queue(BULK).job_ids == []


def test_summary_of_a_shop_never_checked_or_with_a_broken_report() -> None:
    assert summarise_report(None) == "never checked"
    assert summarise_report("not json") == "never checked"


def test_a_shop_whose_token_refresh_failed_is_not_called(runtime: Runtime, stand_in: Callable[..., StandIn]) -> None:
    fake = stand_in("shopify")
    shop = add_shop(runtime, token_state="refresh_failed", token_error="invalid_grant")
    report = check_shop(runtime, shop.id)
    assert report is not None and report.problems[0].startswith("not checked: the shop's token refresh failed")
    assert fake.calls == []
    assert recorded(runtime, shop.id)[1]["problems"] == list(report.problems)  # type: ignore[index]
