"""``flask keys rotate|check|generate``: re-encrypting every stored secret with the newest key."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask import Flask

from integration.cli.keys import rotate_keys
from integration.core.crypto import SecretUnreadable, TokenCipher
from integration.core.runtime import Runtime
from integration.shops.models import Shop
from integration.shops.registry import TokenGrant, uninstall_shop
from tests.helpers import STORE_HASH, TEST_TOKEN_KEY, AppFactory, RuntimeFactory, add_shop, invoke, update_shop

KEY_B = Fernet.generate_key().decode()
NEWEST_FIRST = f"{KEY_B},{TEST_TOKEN_KEY}"  # key B added in front of the suite's key
COLUMNS = ("access_token_enc", "refresh_token_enc", "webhook_token_enc")


def seed(runtime: Runtime) -> dict[int, dict[str, str]]:
    """Three shops under key A: one with a refresh token, one BigCommerce, one uninstalled (whose row
    still holds a secret); returns each shop's plaintext secrets by column."""
    one = add_shop(runtime, "shopify", "one.myshopify.com", "shpat_one", grant=TokenGrant("shprt_one"))
    two = add_shop(runtime, "bigcommerce", STORE_HASH, "bc_token_two")
    gone = add_shop(runtime, "shopify", "gone.myshopify.com", "shpat_gone")
    with runtime.session() as session:
        uninstall_shop(session, gone.id)
    # An older uninstall that left a secret behind: still rotated.
    update_shop(runtime, gone.id, refresh_token_enc=runtime.cipher.encrypt("shprt_gone"))
    return {
        one.id: {
            "access_token_enc": "shpat_one",
            "refresh_token_enc": "shprt_one",
            "webhook_token_enc": one.webhook_token,
        },
        two.id: {"access_token_enc": "bc_token_two", "webhook_token_enc": two.webhook_token},
        gone.id: {"refresh_token_enc": "shprt_gone"},
    }


def stored(runtime: Runtime) -> dict[int, dict[str, str]]:
    with runtime.session() as session:
        rows = session.scalars(sa.select(Shop).order_by(Shop.id))
        return {shop.id: {name: getattr(shop, name) for name in COLUMNS if getattr(shop, name)} for shop in rows}


def decrypt_all(cipher: TokenCipher, rows: dict[int, dict[str, str]]) -> dict[int, dict[str, str]]:
    return {shop_id: {name: cipher.decrypt(value) for name, value in row.items()} for shop_id, row in rows.items()}


def plaintexts(secrets: dict[int, dict[str, str]]) -> list[str]:
    return [value for row in secrets.values() for value in row.values()]


def test_rotate_moves_every_secret_to_the_newest_key(runtime: Runtime, make_app: AppFactory) -> None:
    secrets = seed(runtime)
    before = stored(runtime)
    app = make_app(token_encryption_key=NEWEST_FIRST)
    result = invoke(app, "keys", "rotate")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        "6 secret(s) on 3 shop(s): 6 re-encrypted with the newest key, 0 already on it, 0 unreadable"
    )
    after = stored(runtime)
    assert all(after[s][c] != before[s][c] for s in before for c in before[s])
    # Key B alone reads every secret now: A can be dropped.
    assert decrypt_all(TokenCipher(KEY_B), after) == secrets
    with pytest.raises(SecretUnreadable):
        TokenCipher(TEST_TOKEN_KEY).decrypt(after[next(iter(after))]["access_token_enc"])
    assert not any(secret in result.output for secret in plaintexts(secrets))

    check = invoke(app, "keys", "check")
    assert check.exit_code == 0, check.output
    assert check.stdout.splitlines() == [
        "6 secret(s) on 3 shop(s): 6 on the newest key, 0 on an older key, 0 unreadable",
        "every secret is on the newest key: the older keys can be dropped",
    ]


def test_rotate_is_idempotent(runtime: Runtime, make_app: AppFactory) -> None:
    secrets = seed(runtime)
    app = make_app(token_encryption_key=NEWEST_FIRST)
    assert invoke(app, "keys", "rotate").exit_code == 0
    once = stored(runtime)
    again = invoke(app, "keys", "rotate")
    assert again.exit_code == 0, again.output
    assert "0 re-encrypted with the newest key, 6 already on it" in again.stdout
    assert stored(runtime) == once  # nothing rewritten
    assert decrypt_all(TokenCipher(KEY_B), stored(runtime)) == secrets


def test_check_reports_secrets_left_on_an_older_key(runtime: Runtime, make_app: AppFactory) -> None:
    seed(runtime)
    app = make_app(token_encryption_key=NEWEST_FIRST)
    result = invoke(app, "keys", "check")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "6 secret(s) on 3 shop(s): 0 on the newest key, 6 on an older key, 0 unreadable",
        "run `keys rotate` before dropping an older key",
    ]


def test_an_unreadable_secret_fails_naming_the_shop_and_the_rest_still_rotate(
    runtime: Runtime, make_app: AppFactory
) -> None:
    secrets = seed(runtime)
    lost = add_shop(runtime, identifier="lost.myshopify.com", token="shpat_lost")
    before = stored(runtime)
    # Only C and A are configured: the 'lost' shop's secrets were written under a key now dropped.
    other = TokenCipher(Fernet.generate_key().decode())
    update_shop(runtime, lost.id, access_token_enc=other.encrypt("shpat_lost"))
    app = make_app(token_encryption_key=NEWEST_FIRST)
    result = invoke(app, "keys", "rotate")
    assert result.exit_code == 1
    assert f"shop {lost.id}: access_token_enc cannot be read with any configured key" in result.stderr
    assert "shpat_lost" not in result.output and lost.webhook_token not in result.output
    assert not any(secret in result.output for secret in plaintexts(secrets))
    after = stored(runtime)
    # The unreadable secret is untouched; the same shop's readable webhook token moved to B.
    with runtime.session() as session:
        lost_row = session.get(Shop, lost.id)
        assert lost_row is not None
        assert other.decrypt(lost_row.access_token_enc or "") == "shpat_lost"
        assert TokenCipher(KEY_B).decrypt(lost_row.webhook_token_enc or "") == lost.webhook_token
    assert decrypt_all(TokenCipher(KEY_B), {k: v for k, v in after.items() if k != lost.id}) == secrets
    assert before[lost.id]["webhook_token_enc"] != after[lost.id]["webhook_token_enc"]

    check = invoke(app, "keys", "check")
    assert check.exit_code == 1
    assert f"shop {lost.id}: access_token_enc cannot be read with any configured key" in check.stderr


def test_a_secret_changed_during_rotation_is_not_overwritten(
    runtime: Runtime, make_runtime: RuntimeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token refreshed between reading and writing the row keeps its new value (compare-and-set)."""
    shop = add_shop(runtime, token="shpat_old")
    rotating = make_runtime(token_encryption_key=NEWEST_FIRST)
    real_rotate = TokenCipher.rotate
    refreshed = []

    def rotate_then_refresh(self: TokenCipher, ciphertext: str) -> str:
        rotated = real_rotate(self, ciphertext)
        if not refreshed:  # the first read: the app refreshes the token right now, with the old config
            refreshed.append(True)
            update_shop(runtime, shop.id, access_token_enc=runtime.cipher.encrypt("shpat_new"))
        return rotated

    monkeypatch.setattr(TokenCipher, "rotate", rotate_then_refresh)
    report = rotate_keys(rotating)
    assert report.rotated == 2 and not report.unreadable
    with runtime.session() as session:
        row = session.get(Shop, shop.id)
        assert row is not None
        assert TokenCipher(KEY_B).decrypt(row.access_token_enc or "") == "shpat_new"


def test_generate_prints_a_fernet_key(app: Flask) -> None:
    result = invoke(app, "keys", "generate")
    assert result.exit_code == 0
    key = result.stdout.strip()
    TokenCipher(key)  # a valid key
    assert key != TEST_TOKEN_KEY


def test_nothing_stored_nothing_to_do(app: Flask) -> None:
    result = invoke(app, "keys", "rotate")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("0 secret(s) on 0 shop(s)")


def test_a_shop_mid_token_refresh_is_skipped_and_reported(
    runtime: Runtime, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Shopify refresh holds the shop's lock and compares the stored refresh token's ciphertext:
    rotating that row meanwhile would make it throw away the pair Shopify just issued."""
    from integration.cli import keys

    monkeypatch.setattr(keys, "LOCK_WAIT", 0.2)
    busy = add_shop(runtime, token="shpat_busy")
    free = add_shop(runtime, identifier="free.myshopify.com", token="shpat_free")
    lock = runtime.redis.lock(f"shop-token-refresh:{busy.id}", timeout=30)
    assert lock.acquire()
    app = make_app(token_encryption_key=NEWEST_FIRST)
    try:
        result = invoke(app, "keys", "rotate")
    finally:
        lock.release()
    assert result.exit_code == 0, result.output
    assert (
        f"1 shop(s) skipped, a token refresh held them: run `keys rotate` again (shop ids {busy.id})" in result.stdout
    )
    rows = stored(runtime)
    assert TokenCipher(KEY_B).decrypt(rows[free.id]["access_token_enc"]) == "shpat_free"
    assert runtime.cipher.decrypt(rows[busy.id]["access_token_enc"]) == "shpat_busy"  # untouched, still key A
    with pytest.raises(SecretUnreadable):
        TokenCipher(KEY_B).decrypt(rows[busy.id]["access_token_enc"])
    again = invoke(app, "keys", "rotate")  # the refresh is over
    assert again.exit_code == 0 and "2 re-encrypted with the newest key, 2 already on it" in again.stdout
