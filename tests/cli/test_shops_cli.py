"""``flask shops add``: registering a shop by hand and the webhook token it prints once."""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa
from flask import Flask

from integration import intake_of
from integration.core.runtime import Runtime
from integration.shops.models import Shop, ShopState
from tests.helpers import invoke


def shops(runtime: Runtime) -> list[Shop]:
    with runtime.session() as session:
        return list(session.scalars(sa.select(Shop).order_by(Shop.id)))


def add_json(app: Flask, *args: str) -> dict[str, str]:
    result = invoke(app, "shops", "add", *args, "--json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1  # one JSON object, nothing else
    parsed = json.loads(lines[0])
    assert isinstance(parsed, dict)
    return parsed


def test_add_shopify_shop_prints_one_json_object(app: Flask, app_runtime: Runtime) -> None:
    out = add_json(app, "--platform", "shopify", "--domain", "demo.myshopify.com", "--token", "t")
    assert set(out) == {"platform", "shop", "webhook_token"}
    assert out["platform"] == "shopify"
    assert out["shop"] == "demo.myshopify.com"
    assert len(out["webhook_token"]) >= 32
    (shop,) = shops(app_runtime)
    token = app_runtime.cipher.decrypt(shop.access_token_enc or "")
    assert (shop.platform, shop.identifier, shop.state, token) == (
        "shopify",
        "demo.myshopify.com",
        ShopState.ACTIVE,
        "t",
    )
    # Encrypted at rest: neither token is stored in the clear.
    assert shop.access_token_enc != "t" and out["webhook_token"] not in (shop.webhook_token_enc or "")
    assert app_runtime.cipher.decrypt(shop.webhook_token_enc or "") == out["webhook_token"]


def test_add_normalises_the_domain(app: Flask, app_runtime: Runtime) -> None:
    out = add_json(app, "--platform", "shopify", "--domain", "  Demo.MyShopify.COM ", "--token", "t")
    assert out["shop"] == "demo.myshopify.com"
    assert [s.identifier for s in shops(app_runtime)] == ["demo.myshopify.com"]


def test_add_bigcommerce_store(app: Flask, app_runtime: Runtime) -> None:
    out = add_json(app, "--platform", "bigcommerce", "--store-hash", "abc123", "--token", "bc-token")
    assert out == {"platform": "bigcommerce", "shop": "abc123", "webhook_token": out["webhook_token"]}
    (shop,) = shops(app_runtime)
    assert (shop.platform, shop.identifier) == ("bigcommerce", "abc123")
    # The intake accepts deliveries for it with exactly this token.
    expected = hashlib.sha256(out["webhook_token"].encode()).hexdigest()
    assert intake_of(app).webhook_token_hash("bigcommerce", "abc123") == expected


def test_human_output_shows_the_token_once(app: Flask, app_runtime: Runtime) -> None:
    result = invoke(app, "shops", "add", "--platform", "shopify", "--domain", "demo.myshopify.com", "--token", "t")
    assert result.exit_code == 0, result.output
    (shop,) = shops(app_runtime)
    lines = result.stdout.splitlines()
    assert lines[0] == f"Registered shopify shop demo.myshopify.com (id {shop.id})."
    assert lines[1].startswith("Webhook token (shown once): ")
    token = lines[1].removeprefix("Webhook token (shown once): ")
    assert shop.webhook_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert len(lines) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--platform", "shopify", "--domain", "demo.example.com"], "not a valid *.myshopify.com domain"),
        (
            ["--platform", "shopify", "--domain", "https://demo.myshopify.com/admin"],
            "not a valid *.myshopify.com",
        ),
        (["--platform", "shopify", "--domain", "a.b.myshopify.com"], "not a valid *.myshopify.com domain"),
        (["--platform", "bigcommerce", "--store-hash", "abc/123"], "not a valid BigCommerce store hash"),
        (
            ["--platform", "bigcommerce", "--store-hash", "stores/abc123"],
            "not a valid BigCommerce store hash",
        ),
    ],
)
def test_invalid_identifier_is_refused_with_a_clear_message(
    app: Flask, app_runtime: Runtime, args: list[str], message: str
) -> None:
    result = invoke(app, "shops", "add", *args, "--token", "t", "--json")
    assert result.exit_code != 0
    assert message in result.stderr
    assert result.stdout == ""
    assert shops(app_runtime) == []


def test_blank_token_is_refused(app: Flask, app_runtime: Runtime) -> None:
    result = invoke(app, "shops", "add", "--platform", "shopify", "--domain", "demo.myshopify.com", "--token", "  ")
    assert result.exit_code != 0
    assert "an access token is required" in result.stderr
    assert shops(app_runtime) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--platform", "shopify", "--store-hash", "abc123"], "--domain is required for shopify"),
        (
            ["--platform", "bigcommerce", "--domain", "demo.myshopify.com"],
            "--store-hash is required for bigcommerce",
        ),
        (
            ["--platform", "shopify", "--domain", "demo.myshopify.com", "--store-hash", "abc123"],
            "--store-hash is not for shopify",
        ),
        (
            ["--platform", "bigcommerce", "--store-hash", "abc123", "--domain", "demo.myshopify.com"],
            "--domain is not for bigcommerce",
        ),
        (["--platform", "woocommerce", "--domain", "demo.myshopify.com"], "Invalid value for '--platform'"),
        (["--domain", "demo.myshopify.com"], "Missing option '--platform'"),
    ],
)
def test_wrong_flags_are_usage_errors(app: Flask, app_runtime: Runtime, args: list[str], message: str) -> None:
    result = invoke(app, "shops", "add", *args, "--token", "t")
    assert result.exit_code == 2
    assert message in result.stderr
    assert shops(app_runtime) == []


def test_missing_token_is_a_usage_error(app: Flask) -> None:
    result = invoke(app, "shops", "add", "--platform", "shopify", "--domain", "demo.myshopify.com")
    assert result.exit_code == 2
    assert "Missing option '--token'" in result.stderr


def test_re_adding_rotates_the_token(app: Flask, app_runtime: Runtime) -> None:
    first = add_json(app, "--platform", "shopify", "--domain", "demo.myshopify.com", "--token", "old-access")
    (before,) = shops(app_runtime)
    with app_runtime.session() as session:
        session.execute(sa.update(Shop).values(state=ShopState.UNINSTALLED))
    assert intake_of(app).webhook_token_hash("shopify", "demo.myshopify.com") is None

    second = add_json(app, "--platform", "shopify", "--domain", "demo.myshopify.com", "--token", "new-access")
    assert second["webhook_token"] != first["webhook_token"]
    (after,) = shops(app_runtime)  # the same shop, re-registered
    assert after.id == before.id
    assert after.webhook_token_hash != before.webhook_token_hash
    assert after.webhook_token_hash == hashlib.sha256(second["webhook_token"].encode()).hexdigest()
    assert app_runtime.cipher.decrypt(after.access_token_enc or "") == "new-access"
    assert after.state == ShopState.ACTIVE  # re-activated
    assert intake_of(app).webhook_token_hash("shopify", "demo.myshopify.com") == after.webhook_token_hash


def test_the_webhook_token_is_stored_only_as_its_sha256(app: Flask, app_runtime: Runtime) -> None:
    out = add_json(app, "--platform", "bigcommerce", "--store-hash", "abc123", "--token", "bc-token")
    token = out["webhook_token"]
    with app_runtime.engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT * FROM shops")).mappings().one()
    assert stored["webhook_token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert len(stored["webhook_token_hash"]) == 64
    assert all(token not in str(value) for value in stored.values())
    assert token not in repr(shops(app_runtime)[0])


def test_shops_add_runs_through_app_cli_without_a_pushed_context(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=["shops", "add", "--platform", "shopify", "--domain", "demo.myshopify.com", "--token", "t"]
    )
    assert result.exit_code == 0, repr(result.exception)
