"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from integration.core.db import create_db_engine, load_models


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": False}
            )
            differences = compare_metadata(context, load_models())
    finally:
        engine.dispose()
    # alembic_version is Alembic's own table, not a model.
    differences = [d for d in differences if not (d[0] == "remove_table" and d[1].name == "alembic_version")]
    assert differences == []


def test_every_model_table_exists(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        names = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(load_models().tables) <= names


def test_plaintext_tokens_are_encrypted_on_the_way_up_and_back(tmp_path: Path) -> None:
    from integration.core.crypto import TokenCipher
    from integration.core.migrate import alembic_config, upgrade
    from tests.helpers import TEST_TOKEN_KEY

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0004")
    engine = create_db_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO shops (platform, identifier, state, access_token, webhook_token_hash, created_at,"
                    " updated_at) VALUES ('shopify', 'old.myshopify.com', 'active', 'shpat_plain', 'h', :t, :t)"
                ),
                {"t": "2026-01-01 00:00:00"},
            )
        upgrade(url, "head", TEST_TOKEN_KEY)
        with engine.connect() as connection:
            stored = connection.execute(sa.text("SELECT access_token_enc FROM shops")).scalar_one()
            columns = {c["name"] for c in sa.inspect(connection).get_columns("shops")}
        assert "access_token" not in columns
        assert "shpat_plain" not in stored
        assert TokenCipher(TEST_TOKEN_KEY).decrypt(stored) == "shpat_plain"

        from alembic import command

        command.downgrade(alembic_config(url, TEST_TOKEN_KEY), "0004")
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT access_token FROM shops")).scalar_one() == "shpat_plain"
    finally:
        engine.dispose()


def test_the_merchants_zone_becomes_the_override_and_bigcommerce_admins_the_owners(tmp_path: Path) -> None:
    """0008: until then only the merchant set ``shops.time_zone``, and only a store's owner was ever a
    BigCommerce admin; Shopify's admins were whoever came first, so they are not marked owners."""
    from alembic import command

    from integration.core.migrate import alembic_config, upgrade
    from tests.helpers import TEST_TOKEN_KEY

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0007", TEST_TOKEN_KEY)
    engine = create_db_engine(url)
    try:
        with engine.begin() as connection:
            for shop_id, platform, zone in ((1, "shopify", "Europe/Berlin"), (2, "bigcommerce", None)):
                connection.execute(
                    sa.text(
                        "INSERT INTO shops (id, platform, identifier, state, webhook_token_hash, time_zone, created_at,"
                        " updated_at) VALUES (:id, :p, :i, 'active', 'h', :z, :t, :t)"
                    ),
                    {"id": shop_id, "p": platform, "i": f"shop{shop_id}", "z": zone, "t": "2026-01-01 00:00:00"},
                )
                for user, role in (("1", "admin"), ("2", "staff")):
                    connection.execute(
                        sa.text(
                            "INSERT INTO staff_users (shop_id, platform_user_id, role, active, created_at)"
                            " VALUES (:s, :u, :r, 1, :t)"
                        ),
                        {"s": shop_id, "u": user, "r": role, "t": "2026-01-01 00:00:00"},
                    )
        upgrade(url, "head", TEST_TOKEN_KEY)
        with engine.connect() as connection:
            zones = connection.execute(
                sa.text("SELECT id, time_zone, time_zone_override, platform_time_zone FROM shops ORDER BY id")
            ).all()
            owners = connection.execute(
                sa.text("SELECT shop_id, platform_user_id FROM staff_users WHERE is_owner ORDER BY shop_id")
            ).all()
        assert [tuple(z) for z in zones] == [(1, "Europe/Berlin", "Europe/Berlin", None), (2, None, None, None)]
        assert [tuple(o) for o in owners] == [(2, "1")]

        command.downgrade(alembic_config(url, TEST_TOKEN_KEY), "0007")
        with engine.connect() as connection:
            assert (
                connection.execute(sa.text("SELECT time_zone FROM shops WHERE id = 1")).scalar_one() == "Europe/Berlin"
            )
            assert "is_owner" not in {c["name"] for c in sa.inspect(connection).get_columns("staff_users")}
    finally:
        engine.dispose()
