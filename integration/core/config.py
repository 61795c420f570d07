"""Settings, read once from the environment into one typed, immutable object.

Nothing else in the code base reads ``os.environ`` for configuration: every process (web, worker,
scheduler, CLI) builds a :class:`Settings` with :func:`Settings.from_env` and passes it along.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

PROJECT_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_SHOPIFY_API_VERSION = "2026-10"
MIB = 1024 * 1024
# Every value APP_ENV may take; anything else is refused at startup (a typo must not mean development).
APP_ENVS = ("development", "test", "production")
# Sessions and the install's state cookie are signed with SECRET_KEY: in production at least 256 bits.
MIN_SECRET_KEY_BYTES = 32


class ConfigError(RuntimeError):
    """The environment does not describe a runnable app (an unknown APP_ENV, production without a long
    enough SECRET_KEY or with a plain-http URL, a bad number)."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for logs, reprs and banners)."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True, repr=False)
class Settings:
    """Every setting the app reads; the README's configuration table lists the same names."""

    app_env: str = "development"
    secret_key: str = field(default="", repr=False)
    # Fernet keys, comma-separated, newest first: tokens are encrypted with the first and read with any
    # (MultiFernet), so a key rotates by prepending a new one and running `keys rotate`.
    token_encryption_key: str = field(default="", repr=False)
    instance_path: Path = PROJECT_ROOT / "instance"
    database_url: str = ""
    # None means "the embedded Redis": a private redis-server on a unix socket under instance/.
    redis_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    shopify_api_key: str = ""
    shopify_api_secret: str = field(default="", repr=False)
    shopify_api_secret_previous: str = field(default="", repr=False)
    shopify_api_version: str = DEFAULT_SHOPIFY_API_VERSION
    shopify_admin_url: str = "https://{shop}"
    # What the install asks the merchant to grant (comma-separated Shopify access scopes).
    shopify_scopes: str = "read_orders,read_customers,write_customers,read_fulfillments,read_products"
    bigcommerce_client_id: str = ""
    bigcommerce_client_secret: str = field(default="", repr=False)
    bigcommerce_api_url: str = "https://api.bigcommerce.com"
    bigcommerce_login_url: str = "https://login.bigcommerce.com"
    # BigCommerce calls in flight at once per store, across all workers (its customer and attribute
    # endpoints allow 3 concurrent requests).
    bigcommerce_max_concurrency: int = 3
    max_webhook_bytes: int = 5 * MIB
    # How often the scheduler sweeps for events that Redis or a dead worker lost, and how old an
    # event must be before the sweep considers it lost (seconds).
    sweep_interval: int = 60
    stale_after: int = 300
    # RQ job timeout for one event, and how many attempts a permanently failing event gets.
    job_timeout: int = 120
    max_attempts: int = 6
    # Reconciliation: how often each shop's changes are pulled from the platform (seconds), and how far
    # back a new shop's first pull (and a `shops backfill` without --days) reaches (days).
    reconcile_interval: int = 900
    backfill_days: int = 30
    # How often changed segments and reps are written back to the platforms' customer records (seconds).
    writeback_interval: int = 300
    # How often each shop's webhook subscriptions are checked and repaired (seconds).
    subscriptions_interval: int = 6 * 3600
    # Email: where to send (smtp://user:pass@host:port, STARTTLS when offered; smtps:// for implicit TLS; empty:
    # mail stays in the outbox), and the fallbacks for shops that did not set their own sender and address.
    smtp_url: str = field(default="", repr=False)
    mail_from: str = ""
    shop_postal_address: str = ""
    log_level: str = "INFO"
    # Logs: "json" (one JSON object a line, the default) or "text" (for reading at a terminal).
    log_format: str = "json"
    # A Prometheus scraper's bearer token for /metrics (empty: only a signed-in ops user may read it).
    metrics_token: str = field(default="", repr=False)
    # Where prometheus-client's processes write their metrics (multiprocess mode); None: instance/prometheus.
    prometheus_multiproc_dir: Path | None = None

    def __post_init__(self) -> None:
        # Checked on every construction (from_env, replace, by hand): no code path holds settings that
        # would run production half-configured.
        if self.app_env not in APP_ENVS:
            raise ConfigError(f"APP_ENV must be one of {', '.join(APP_ENVS)}; got {self.app_env!r}")
        if self.log_format not in ("json", "text"):
            raise ConfigError(f"LOG_FORMAT must be json or text; got {self.log_format!r}")
        if self.is_production:
            self._check_production()

    def _check_production(self) -> None:
        if not self.secret_key:
            raise ConfigError("SECRET_KEY must be set when APP_ENV=production")
        if len(self.secret_key.encode()) < MIN_SECRET_KEY_BYTES:
            raise ConfigError(
                f"SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes when APP_ENV=production "
                "(`python -c 'import secrets; print(secrets.token_urlsafe(48))'` makes one)"
            )
        if not self.token_encryption_key:
            raise ConfigError("TOKEN_ENCRYPTION_KEY must be set when APP_ENV=production")
        # Where codes, tokens and the client secrets are sent, and where the platforms and the admins'
        # browsers reach us: never over plain http.
        urls = {
            "PUBLIC_URL": self.public_url,
            "SHOPIFY_ADMIN_URL": self.shopify_admin_url.replace("{shop}", "shop.myshopify.com"),
            "BIGCOMMERCE_API_URL": self.bigcommerce_api_url,
            "BIGCOMMERCE_LOGIN_URL": self.bigcommerce_login_url,
        }
        for name, url in urls.items():
            parts = urlsplit(url)
            if parts.scheme != "https" or not parts.hostname:
                raise ConfigError(f"{name} must be an https:// URL when APP_ENV=production; got {mask_url(url)!r}")

    def __repr__(self) -> str:
        # Secrets are left out (repr=False fields); passwords inside URLs are masked.
        shown = []
        for f in dataclasses.fields(self):
            if not f.repr:
                continue
            value = getattr(self, f.name)
            if f.name in ("database_url", "redis_url") and value:
                value = mask_url(value)
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def serves_https(self) -> bool:
        """The app is reached over https (always in production; a development machine behind a tunnel
        too): cookies are Secure, and the session cookie SameSite=None and Partitioned for the platforms'
        frames. Plain http (local development, most tests) gets ordinary Lax cookies."""
        return urlsplit(self.public_url).scheme == "https"

    @property
    def metrics_dir(self) -> Path:
        return self.prometheus_multiproc_dir or self.instance_path / "prometheus"

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url is None

    @property
    def redis_socket(self) -> Path:
        """Socket of the embedded Redis (only meaningful when ``embedded_redis``)."""
        return self.instance_path / "redis" / "redis.sock"

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or f"unix://{self.redis_socket}"

    @property
    def shopify_secrets(self) -> tuple[bytes, ...]:
        """Current secret first, then the previous one during a rotation (Shopify signs with the old
        secret for up to an hour after a change)."""
        return tuple(s.encode() for s in (self.shopify_api_secret, self.shopify_api_secret_previous) if s)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``env`` (default ``os.environ``); ``overrides`` win (tests use them)."""
        env = os.environ if env is None else env
        app_env = env.get("APP_ENV") or "development"
        instance_path = Path(env.get("INSTANCE_PATH") or PROJECT_ROOT / "instance").resolve()
        values: dict[str, Any] = {
            "app_env": app_env,
            "instance_path": instance_path,
            "secret_key": env.get("SECRET_KEY", ""),
            "token_encryption_key": env.get("TOKEN_ENCRYPTION_KEY", ""),
            "database_url": env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'personal_commerce.db'}",
            "redis_url": env.get("REDIS_URL") or None,
            "public_url": env.get("PUBLIC_URL", cls.public_url).rstrip("/"),
            "shopify_api_key": env.get("SHOPIFY_API_KEY", ""),
            "shopify_api_secret": env.get("SHOPIFY_API_SECRET", ""),
            "shopify_api_secret_previous": env.get("SHOPIFY_API_SECRET_PREVIOUS", ""),
            "shopify_api_version": env.get("SHOPIFY_API_VERSION") or DEFAULT_SHOPIFY_API_VERSION,
            "shopify_admin_url": env.get("SHOPIFY_ADMIN_URL") or cls.shopify_admin_url,
            "shopify_scopes": env.get("SHOPIFY_SCOPES") or cls.shopify_scopes,
            "bigcommerce_client_id": env.get("BIGCOMMERCE_CLIENT_ID", ""),
            "bigcommerce_client_secret": env.get("BIGCOMMERCE_CLIENT_SECRET", ""),
            "bigcommerce_api_url": (env.get("BIGCOMMERCE_API_URL") or cls.bigcommerce_api_url).rstrip("/"),
            "bigcommerce_login_url": (env.get("BIGCOMMERCE_LOGIN_URL") or cls.bigcommerce_login_url).rstrip("/"),
            "bigcommerce_max_concurrency": _int(env, "BIGCOMMERCE_MAX_CONCURRENCY", cls.bigcommerce_max_concurrency),
            "max_webhook_bytes": _int(env, "MAX_WEBHOOK_BYTES", cls.max_webhook_bytes),
            "sweep_interval": _int(env, "SWEEP_INTERVAL", cls.sweep_interval),
            "stale_after": _int(env, "STALE_AFTER", cls.stale_after),
            "job_timeout": _int(env, "JOB_TIMEOUT", cls.job_timeout),
            "max_attempts": _int(env, "MAX_ATTEMPTS", cls.max_attempts),
            "reconcile_interval": _int(env, "RECONCILE_INTERVAL", cls.reconcile_interval),
            "backfill_days": _int(env, "BACKFILL_DAYS", cls.backfill_days),
            "writeback_interval": _int(env, "WRITEBACK_INTERVAL", cls.writeback_interval),
            "subscriptions_interval": _int(env, "SUBSCRIPTIONS_INTERVAL", cls.subscriptions_interval),
            "smtp_url": env.get("SMTP_URL", ""),
            "mail_from": env.get("MAIL_FROM", ""),
            "shop_postal_address": env.get("SHOP_POSTAL_ADDRESS", ""),
            "log_level": env.get("LOG_LEVEL", "INFO").upper(),
            "log_format": (env.get("LOG_FORMAT") or "json").lower(),
            "metrics_token": env.get("METRICS_TOKEN", ""),
            "prometheus_multiproc_dir": Path(env["PROMETHEUS_MULTIPROC_DIR"]).resolve()
            if env.get("PROMETHEUS_MULTIPROC_DIR")
            else None,
        }
        values.update(overrides)
        settings = cls(**values)
        return settings.with_secret_key()

    def with_secret_key(self) -> Settings:
        """A local run generates SECRET_KEY and TOKEN_ENCRYPTION_KEY into the instance folder once
        (production must be given both: :meth:`__post_init__` refused it before we get here)."""
        settings = self
        if not settings.secret_key:
            settings = settings.replace(secret_key=_local_key(settings.instance_path / "secret_key", _url_safe_key))
        if not settings.token_encryption_key:
            settings = settings.replace(
                token_encryption_key=_local_key(settings.instance_path / "token_key", _fernet_key)
            )
        return settings


def _url_safe_key() -> str:
    return secrets.token_urlsafe(48)


def _fernet_key() -> str:
    # A Fernet key is 32 random bytes, url-safe base64 (what Fernet.generate_key makes).
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _local_key(key_file: Path, generate: Callable[[], str]) -> str:
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        # Written whole to a private name, then linked into place: a process starting at the same
        # moment sees either no file or the complete key, never a half-written one, and a link
        # that loses the race leaves the winner's key in place.
        draft = key_file.with_name(f".{key_file.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(generate())
        try:
            os.link(draft, key_file)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    key = key_file.read_text().strip()
    if not key:
        raise ConfigError(f"{key_file} is empty; delete it to generate a new key, or set it in the environment")
    return key
