"""Settings: defaults, parsing the environment, the secret key, and what never shows in a repr."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest

from integration.core.config import DEFAULT_SHOPIFY_API_VERSION, MIB, PROJECT_ROOT, ConfigError, Settings

INT_VARIABLES = (
    "MAX_WEBHOOK_BYTES",
    "SWEEP_INTERVAL",
    "STALE_AFTER",
    "JOB_TIMEOUT",
    "MAX_ATTEMPTS",
    "RECONCILE_INTERVAL",
    "BACKFILL_DAYS",
    "WRITEBACK_INTERVAL",
    "SUBSCRIPTIONS_INTERVAL",
    "BIGCOMMERCE_MAX_CONCURRENCY",
)


def test_dataclass_defaults_cover_every_field() -> None:
    expected = {
        "app_env": "development",
        "secret_key": "",
        "token_encryption_key": "",
        "instance_path": PROJECT_ROOT / "instance",
        "database_url": "",
        "redis_url": None,
        "public_url": "http://127.0.0.1:8000",
        "shopify_api_key": "",
        "shopify_api_secret": "",
        "shopify_api_secret_previous": "",
        "shopify_api_version": DEFAULT_SHOPIFY_API_VERSION,
        "shopify_admin_url": "https://{shop}",
        "shopify_scopes": "read_orders,read_customers,write_customers,read_fulfillments,read_products",
        "bigcommerce_client_id": "",
        "bigcommerce_client_secret": "",
        "bigcommerce_api_url": "https://api.bigcommerce.com",
        "bigcommerce_login_url": "https://login.bigcommerce.com",
        "max_webhook_bytes": 5 * MIB,
        "sweep_interval": 60,
        "stale_after": 300,
        "job_timeout": 120,
        "max_attempts": 6,
        "reconcile_interval": 900,
        "backfill_days": 30,
        "writeback_interval": 300,
        "subscriptions_interval": 6 * 3600,
        "bigcommerce_max_concurrency": 3,
        "smtp_url": "",
        "mail_from": "",
        "shop_postal_address": "",
        "log_level": "INFO",
        "log_format": "json",
        "metrics_token": "",
        "prometheus_multiproc_dir": None,
    }
    settings = Settings()
    assert {f.name for f in dataclasses.fields(Settings)} == set(expected)
    assert dataclasses.asdict(settings) == expected
    assert DEFAULT_SHOPIFY_API_VERSION == "2026-10"
    assert not settings.is_production
    assert settings.embedded_redis
    assert settings.shopify_secrets == ()


def test_from_env_with_an_empty_environment_uses_the_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path)})
    values = dataclasses.asdict(settings)
    assert values.pop("secret_key")  # generated; see test_local_run_generates_the_secret_key_once…
    assert values.pop("token_encryption_key")  # generated likewise
    expected = dataclasses.asdict(Settings())
    del expected["secret_key"]
    del expected["token_encryption_key"]
    expected["instance_path"] = tmp_path.resolve()
    expected["database_url"] = f"sqlite:///{tmp_path.resolve() / 'personal_commerce.db'}"
    assert values == expected


def test_from_env_reads_every_variable(tmp_path: Path) -> None:
    env = {
        "APP_ENV": "test",
        "SECRET_KEY": "s3cret-key",
        "TOKEN_ENCRYPTION_KEY": "a-key",
        "INSTANCE_PATH": str(tmp_path / "inst"),
        "DATABASE_URL": "postgresql+psycopg://db.example/pc",
        "REDIS_URL": "redis://redis.example:6380/2",
        "PUBLIC_URL": "https://commerce.example.com/",
        "SHOPIFY_API_KEY": "key-1",
        "SHOPIFY_API_SECRET": "shp-current",
        "SHOPIFY_API_SECRET_PREVIOUS": "shp-previous",
        "SHOPIFY_API_VERSION": "2025-01",
        "SHOPIFY_ADMIN_URL": "http://127.0.0.1:9999/{shop}",
        "SHOPIFY_SCOPES": "read_orders,write_customers",
        "BIGCOMMERCE_CLIENT_ID": "bc-id",
        "BIGCOMMERCE_CLIENT_SECRET": "bc-secret",
        "BIGCOMMERCE_API_URL": "http://127.0.0.1:8001/",
        "BIGCOMMERCE_LOGIN_URL": "http://127.0.0.1:8002//",
        "MAX_WEBHOOK_BYTES": "1024",
        "SWEEP_INTERVAL": "7",
        "STALE_AFTER": "70",
        "JOB_TIMEOUT": "33",
        "MAX_ATTEMPTS": "4",
        "RECONCILE_INTERVAL": "120",
        "BACKFILL_DAYS": "90",
        "WRITEBACK_INTERVAL": "600",
        "SUBSCRIPTIONS_INTERVAL": "7200",
        "BIGCOMMERCE_MAX_CONCURRENCY": "5",
        "SMTP_URL": "smtps://user:p%40ss@mail.example:465",
        "MAIL_FROM": "Shop <hello@shop.example>",
        "SHOP_POSTAL_ADDRESS": "1 High Street, Town",
        "LOG_LEVEL": "debug",
        "LOG_FORMAT": "TEXT",
        "METRICS_TOKEN": "scrape-me",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
    }
    settings = Settings.from_env(env)
    assert dataclasses.asdict(settings) == {
        "app_env": "test",
        "secret_key": "s3cret-key",
        "token_encryption_key": "a-key",
        "instance_path": (tmp_path / "inst").resolve(),
        "database_url": "postgresql+psycopg://db.example/pc",
        "redis_url": "redis://redis.example:6380/2",
        "public_url": "https://commerce.example.com",
        "shopify_api_key": "key-1",
        "shopify_api_secret": "shp-current",
        "shopify_api_secret_previous": "shp-previous",
        "shopify_api_version": "2025-01",
        "shopify_admin_url": "http://127.0.0.1:9999/{shop}",
        "shopify_scopes": "read_orders,write_customers",
        "bigcommerce_client_id": "bc-id",
        "bigcommerce_client_secret": "bc-secret",
        "bigcommerce_api_url": "http://127.0.0.1:8001",
        "bigcommerce_login_url": "http://127.0.0.1:8002",
        "max_webhook_bytes": 1024,
        "sweep_interval": 7,
        "stale_after": 70,
        "job_timeout": 33,
        "max_attempts": 4,
        "reconcile_interval": 120,
        "backfill_days": 90,
        "writeback_interval": 600,
        "subscriptions_interval": 7200,
        "bigcommerce_max_concurrency": 5,
        "smtp_url": "smtps://user:p%40ss@mail.example:465",
        "mail_from": "Shop <hello@shop.example>",
        "shop_postal_address": "1 High Street, Town",
        "log_level": "DEBUG",
        "log_format": "text",
        "metrics_token": "scrape-me",
        "prometheus_multiproc_dir": (tmp_path / "prom").resolve(),
    }
    assert not settings.embedded_redis
    assert settings.effective_redis_url == "redis://redis.example:6380/2"
    # A SECRET_KEY was given: nothing is generated or written.
    assert not (tmp_path / "inst").exists()


def test_overrides_win_over_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k", "JOB_TIMEOUT": "5"}, job_timeout=9, app_env="test"
    )
    assert settings.job_timeout == 9
    assert settings.app_env == "test"


@pytest.mark.parametrize("name", INT_VARIABLES)
@pytest.mark.parametrize("raw", ["abc", "1.5", "12s", "0", "-3"])
def test_bad_whole_numbers_name_the_variable(tmp_path: Path, name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k", name: raw})


@pytest.mark.parametrize("name", INT_VARIABLES)
def test_empty_whole_number_means_the_default(tmp_path: Path, name: str) -> None:
    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k", name: ""})
    field = name.lower()
    assert getattr(settings, field) == getattr(Settings(), field)


def test_production_without_secret_key_is_refused(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    with pytest.raises(ConfigError, match="SECRET_KEY must be set"):
        Settings.from_env(env)
    with pytest.raises(ConfigError, match="SECRET_KEY must be set"):
        Settings.from_env({**env, "SECRET_KEY": ""})
    # Production never falls back to a generated key file, even one left over from a local run.
    (tmp_path / "secret_key").write_text("left-over-local-key-" + "x" * 32)
    with pytest.raises(ConfigError, match="SECRET_KEY must be set"):
        Settings.from_env(env)


PRODUCTION_KEY = "p" * 32


def production_env(tmp_path: Path, **changes: str) -> dict[str, str]:
    """A complete production environment (every check satisfied) with ``changes`` applied."""
    env = {
        "APP_ENV": "production",
        "INSTANCE_PATH": str(tmp_path),
        "SECRET_KEY": PRODUCTION_KEY,
        "TOKEN_ENCRYPTION_KEY": "k",
        "PUBLIC_URL": "https://commerce.example.com",
    }
    env.update(changes)
    return env


def test_production_with_secret_key(tmp_path: Path) -> None:
    settings = Settings.from_env(production_env(tmp_path))
    assert settings.is_production
    assert (settings.secret_key, settings.token_encryption_key) == (PRODUCTION_KEY, "k")
    assert settings.serves_https
    assert not (tmp_path / "secret_key").exists()
    assert not (tmp_path / "token_key").exists()


def test_production_without_token_encryption_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "token_key").write_text("left-over-local-key")
    env = production_env(tmp_path)
    del env["TOKEN_ENCRYPTION_KEY"]
    with pytest.raises(ConfigError, match="TOKEN_ENCRYPTION_KEY"):
        Settings.from_env(env)


@pytest.mark.parametrize("app_env", ["staging", "prod", "Production", "production ", "dev", "testing", "TEST"])
def test_app_env_accepts_only_development_test_and_production(tmp_path: Path, app_env: str) -> None:
    # A typo used to run the app as development: generated keys, plain cookies, test routes' guard open.
    with pytest.raises(ConfigError, match=r"APP_ENV must be one of development, test, production") as caught:
        Settings.from_env({"APP_ENV": app_env, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k"})
    assert repr(app_env) in str(caught.value)
    with pytest.raises(ConfigError, match="APP_ENV"):
        Settings(app_env=app_env)  # built by hand (tests, scripts) just the same


@pytest.mark.parametrize("app_env", ["development", "test", "production"])
def test_the_three_app_envs(tmp_path: Path, app_env: str) -> None:
    assert Settings.from_env(production_env(tmp_path, APP_ENV=app_env)).app_env == app_env


def test_an_empty_app_env_means_development(tmp_path: Path) -> None:
    assert Settings.from_env({"APP_ENV": "", "INSTANCE_PATH": str(tmp_path)}).app_env == "development"


@pytest.mark.parametrize("key", ["p" * 31, "short", "é" * 15 + "x"])  # the last is 31 bytes, 16 characters
def test_production_refuses_a_secret_key_shorter_than_32_bytes(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY must be at least 32 bytes"):
        Settings.from_env(production_env(tmp_path, SECRET_KEY=key))


def test_production_counts_the_secret_key_in_bytes(tmp_path: Path) -> None:
    assert Settings.from_env(production_env(tmp_path, SECRET_KEY="é" * 16)).is_production  # 32 bytes


def test_a_short_secret_key_is_fine_outside_production(tmp_path: Path) -> None:
    assert Settings.from_env({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k"}).secret_key == "k"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PUBLIC_URL", "http://commerce.example.com"),
        ("PUBLIC_URL", "commerce.example.com"),
        ("PUBLIC_URL", "https://"),
        ("SHOPIFY_ADMIN_URL", "http://{shop}"),
        ("SHOPIFY_ADMIN_URL", "http://127.0.0.1:9999/{shop}"),
        ("BIGCOMMERCE_API_URL", "http://api.bigcommerce.com"),
        ("BIGCOMMERCE_LOGIN_URL", "http://login.bigcommerce.com"),
        ("BIGCOMMERCE_LOGIN_URL", "ftp://login.bigcommerce.com"),
    ],
)
def test_production_refuses_urls_that_are_not_https(tmp_path: Path, name: str, value: str) -> None:
    # Codes, tokens and the client secrets travel to these; webhooks and the admins' browsers come to ours.
    with pytest.raises(ConfigError, match=f"{name} must be an https:// URL when APP_ENV=production"):
        Settings.from_env(production_env(tmp_path, **{name: value}))


def test_production_needs_a_public_url(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["PUBLIC_URL"]  # the default is the local http://127.0.0.1:8000
    with pytest.raises(ConfigError, match="PUBLIC_URL must be an https:// URL"):
        Settings.from_env(env)


def test_the_platform_defaults_are_https(tmp_path: Path) -> None:
    settings = Settings.from_env(production_env(tmp_path))
    assert (settings.shopify_admin_url, settings.bigcommerce_api_url, settings.bigcommerce_login_url) == (
        "https://{shop}",
        "https://api.bigcommerce.com",
        "https://login.bigcommerce.com",
    )


def test_http_urls_are_fine_outside_production(tmp_path: Path) -> None:
    env = {"INSTANCE_PATH": str(tmp_path), "APP_ENV": "test", "BIGCOMMERCE_API_URL": "http://127.0.0.1:9"}
    settings = Settings.from_env(env)
    assert settings.bigcommerce_api_url == "http://127.0.0.1:9"
    assert not settings.serves_https


def test_cookies_follow_the_public_url_scheme(tmp_path: Path) -> None:
    # An https public URL (production, or a tunnel to a development machine) is what the platforms frame.
    assert Settings(public_url="https://tunnel.example.com").serves_https
    assert not Settings(public_url="http://127.0.0.1:8000").serves_https


def test_local_run_generates_a_token_key_that_encrypts(tmp_path: Path) -> None:
    from integration.core.crypto import TokenCipher

    first = Settings.from_env({"INSTANCE_PATH": str(tmp_path)})
    again = Settings.from_env({"INSTANCE_PATH": str(tmp_path)})
    assert first.token_encryption_key == again.token_encryption_key
    assert (tmp_path / "token_key").stat().st_mode & 0o777 == 0o600
    cipher = TokenCipher(first.token_encryption_key)
    assert cipher.decrypt(cipher.encrypt("shpat_secret")) == "shpat_secret"


def test_local_run_generates_the_secret_key_once_and_reuses_it(tmp_path: Path) -> None:
    instance = tmp_path / "new-instance"
    first = Settings.from_env({"INSTANCE_PATH": str(instance)})
    key_file = instance / "secret_key"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.secret_key) >= 32
    assert key_file.read_text().strip() == first.secret_key

    second = Settings.from_env({"INSTANCE_PATH": str(instance)})
    assert second.secret_key == first.secret_key
    assert key_file.read_text().strip() == first.secret_key

    # Another instance folder gets its own random key.
    other = Settings.from_env({"INSTANCE_PATH": str(tmp_path / "other")})
    assert other.secret_key != first.secret_key


def test_an_existing_key_file_is_used_as_is(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("  handwritten-key\n")
    assert Settings.from_env({"INSTANCE_PATH": str(tmp_path)}).secret_key == "handwritten-key"


def test_a_given_secret_key_wins_over_the_key_file(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("file-key")
    assert Settings.from_env({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "env-key"}).secret_key == "env-key"


def test_an_empty_key_file_never_yields_an_empty_secret_key(tmp_path: Path) -> None:
    # What a second process sees when it starts while the first is between os.open(O_EXCL) and write.
    (tmp_path / "secret_key").touch(mode=0o600)
    try:
        settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path)})
    except ConfigError:
        return  # refusing to start is acceptable; running without a key is not
    assert settings.secret_key != ""


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        ("cur", "prev", (b"cur", b"prev")),
        ("cur", "", (b"cur",)),
        ("", "prev", (b"prev",)),
        ("", "", ()),
    ],
)
def test_shopify_secrets_current_first_then_previous(current: str, previous: str, expected: tuple[bytes, ...]) -> None:
    settings = Settings(shopify_api_secret=current, shopify_api_secret_previous=previous)
    assert settings.shopify_secrets == expected


def test_shopify_secrets_from_env(tmp_path: Path) -> None:
    env = {"INSTANCE_PATH": str(tmp_path), "SHOPIFY_API_SECRET": "a", "SHOPIFY_API_SECRET_PREVIOUS": "b"}
    assert Settings.from_env(env).shopify_secrets == (b"a", b"b")


def test_effective_redis_url_embedded_or_given(tmp_path: Path) -> None:
    embedded = Settings.from_env({"INSTANCE_PATH": str(tmp_path), "REDIS_URL": ""})
    assert embedded.embedded_redis
    assert embedded.redis_url is None
    assert embedded.redis_socket == tmp_path.resolve() / "redis" / "redis.sock"
    assert embedded.effective_redis_url == f"unix://{tmp_path.resolve()}/redis/redis.sock"

    given = Settings.from_env({"INSTANCE_PATH": str(tmp_path), "REDIS_URL": "redis://10.0.0.5:6379/0"})
    assert not given.embedded_redis
    assert given.effective_redis_url == "redis://10.0.0.5:6379/0"


def test_replace_returns_a_new_settings() -> None:
    base = Settings(job_timeout=10)
    changed = base.replace(job_timeout=20)
    assert (base.job_timeout, changed.job_timeout) == (10, 20)
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.job_timeout = 30  # type: ignore[misc]


def test_repr_never_contains_secret_values(tmp_path: Path) -> None:
    env = {
        "INSTANCE_PATH": str(tmp_path),
        "SECRET_KEY": "SECRET-KEY-VALUE-1",
        "SHOPIFY_API_SECRET": "SHOPIFY-SECRET-VALUE-2",
        "SHOPIFY_API_SECRET_PREVIOUS": "SHOPIFY-PREVIOUS-VALUE-3",
        "BIGCOMMERCE_CLIENT_SECRET": "BC-SECRET-VALUE-4",
        "SHOPIFY_API_KEY": "public-api-key",
    }
    settings = Settings.from_env(env)
    text = repr(settings) + str(settings)
    for name in (
        "SECRET_KEY",
        "SHOPIFY_API_SECRET",
        "SHOPIFY_API_SECRET_PREVIOUS",
        "BIGCOMMERCE_CLIENT_SECRET",
    ):
        assert env[name] not in text
    assert "public-api-key" in text  # the repr is still useful
    # A generated key stays out of it too.
    generated = Settings.from_env({"INSTANCE_PATH": str(tmp_path / "gen")})
    assert generated.secret_key not in repr(generated)


def test_repr_hides_passwords_inside_urls(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "INSTANCE_PATH": str(tmp_path),
            "SECRET_KEY": "k",
            "DATABASE_URL": "postgresql+psycopg://app:DB-PASSWORD-5@db.example/pc",
            "REDIS_URL": "redis://:REDIS-PASSWORD-6@redis.example:6379/0",
            "SMTP_URL": "smtp://mailer:SMTP-PASSWORD-7@mail.example:587",
        }
    )
    assert "SMTP-PASSWORD-7" not in repr(settings)
    assert "DB-PASSWORD-5" not in repr(settings)
    assert "REDIS-PASSWORD-6" not in repr(settings)
