"""``flask shops list``: what ops see of every shop (token state, last subscription check), never tokens."""

from __future__ import annotations

import json

from flask import Flask

from integration.core.db import utcnow
from integration.core.runtime import Runtime
from integration.platforms.interfaces import SubscriptionReport
from integration.shops.lifecycle import uninstall
from integration.shops.models import TokenState
from integration.shops.subscriptions import report_json
from tests.helpers import STORE_HASH, add_shop, invoke


def seed(runtime: Runtime) -> dict[str, int]:
    """A healthy shop, one whose refresh failed, a store with broken hooks, an uninstalled shop."""
    now = utcnow()
    healthy = add_shop(
        runtime,
        token="shpat_healthy_secret",
        subscriptions_checked_at=now,
        subscriptions_report=report_json(SubscriptionReport(present=("orders/create", "orders/updated"))),
    )
    refused = add_shop(
        runtime,
        identifier="refused.myshopify.com",
        token="shpat_refused_secret",
        token_state=TokenState.REFRESH_FAILED,
        token_error="Shopify refused the refresh token (400)",
    )
    broken = add_shop(
        runtime,
        "bigcommerce",
        STORE_HASH,
        "bc_broken_secret",
        subscriptions_checked_at=now,
        subscriptions_report=report_json(
            SubscriptionReport(
                present=("store/order/*",),
                reactivated=("store/customer/*",),
                problems=("the platform refused: BigCommerce POST /v3/hooks answered 403",),
            )
        ),
    )
    gone = add_shop(runtime, identifier="gone.myshopify.com", token="shpat_gone_secret")
    uninstall(runtime, gone.id)
    return {"healthy": healthy.id, "refused": refused.id, "broken": broken.id, "gone": gone.id}


SECRETS = ("shpat_healthy_secret", "shpat_refused_secret", "bc_broken_secret", "shpat_gone_secret")


def test_json_lists_every_shop_with_what_ops_need(app: Flask, app_runtime: Runtime) -> None:
    ids = seed(app_runtime)
    result = invoke(app, "shops", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    assert list(rows) == sorted(ids.values())
    assert set(rows[ids["healthy"]]) == {
        "id",
        "platform",
        "shop",
        "state",
        "token_state",
        "token_error",
        "installed_at",
        "uninstalled_at",
        "subscriptions_checked_at",
        "subscriptions",
        "attention",
    }
    healthy, refused, broken, gone = (rows[ids[k]] for k in ("healthy", "refused", "broken", "gone"))
    assert (healthy["platform"], healthy["shop"], healthy["state"], healthy["attention"]) == (
        "shopify",
        "demo-shop.myshopify.com",
        "active",
        False,
    )
    assert healthy["subscriptions"]["present"] == ["orders/create", "orders/updated"]
    assert healthy["subscriptions_checked_at"].endswith("Z") and healthy["installed_at"].endswith("Z")
    assert (refused["token_state"], refused["token_error"], refused["attention"]) == (
        "refresh_failed",
        "Shopify refused the refresh token (400)",
        True,
    )
    assert refused["subscriptions"] is None and refused["subscriptions_checked_at"] is None
    assert broken["attention"] is True
    assert broken["subscriptions"]["problems"] == ["the platform refused: BigCommerce POST /v3/hooks answered 403"]
    assert (gone["state"], gone["attention"]) == ("uninstalled", False)
    assert gone["uninstalled_at"] is not None
    assert not any(secret in result.output for secret in SECRETS)


def test_attention_shows_only_the_shops_ops_must_look_at(app: Flask, app_runtime: Runtime) -> None:
    ids = seed(app_runtime)
    result = invoke(app, "shops", "list", "--attention", "--json")
    assert result.exit_code == 0, result.output
    assert [row["id"] for row in json.loads(result.stdout)] == [ids["refused"], ids["broken"]]


def test_human_output_names_the_problems(app: Flask, app_runtime: Runtime) -> None:
    ids = seed(app_runtime)
    result = invoke(app, "shops", "list")
    assert result.exit_code == 0, result.output
    out = result.stdout
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "PLATFORM", "SHOP", "STATE", "TOKEN", "INSTALLED", "SUBSCRIPTIONS"]
    (healthy,) = [line for line in lines if line.strip().startswith(f"{ids['healthy']} ")]
    assert "2 ok, 0 created, 0 re-activated, 0 problems (" in healthy
    assert "token: Shopify refused the refresh token (400)" in out
    assert "subscriptions: the platform refused: BigCommerce POST /v3/hooks answered 403" in out
    assert "1 ok, 0 created, 1 re-activated, 1 problems" in out
    assert "never checked" in out
    assert "uninstalled 20" in out
    assert not any(secret in result.output for secret in SECRETS)


def test_no_shops(app: Flask) -> None:
    result = invoke(app, "shops", "list")
    assert (result.exit_code, result.stdout) == (0, "no shops\n")
    assert json.loads(invoke(app, "shops", "list", "--json").stdout) == []
