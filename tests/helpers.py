"""Helpers the whole suite shares: signing and posting deliveries, env for subprocesses, workers."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import requests
import sqlalchemy as sa
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from rq import SimpleWorker

from integration.core.config import Settings
from integration.core.db import utcnow
from integration.core.queues import ALL
from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.events.intake import Delivery, EventIntake
from integration.shops.models import Shop
from integration.shops.registry import RegisteredShop, TokenGrant, register_shop

ROOT = Path(__file__).resolve().parent.parent
# A fixed Fernet key for tests (32 bytes, url-safe base64); never used outside tests.
TEST_TOKEN_KEY = "dGVzdC10b2tlbi1rZXktMzItYnl0ZXMtbG9uZy0wMDA="
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHOPIFY_SECRET = "shpss_test_current_secret"
SHOPIFY_PREVIOUS_SECRET = "shpss_test_previous_secret"
BIGCOMMERCE_SECRET = "bc_test_client_secret"
SHOP_DOMAIN = "demo-shop.myshopify.com"
SHOPIFY_TOKEN = "shpat_x"  # the Admin API token of SHOP_DOMAIN on the fake Shopify (the shopify fixture)
STORE_HASH = "abc123"
BC_TOKEN = "tok-SECRET-8f3a1c9e"  # the API token of STORE_HASH on the fake BigCommerce (fake_bc)


class AppFactory(Protocol):
    """The ``make_app`` fixture: another app on the test's settings, with some fields changed."""

    def __call__(self, *, testing: bool = True, **changes: Any) -> Flask: ...


class RuntimeFactory(Protocol):
    """The ``make_runtime`` fixture: another runtime on the test's settings, with some fields changed."""

    def __call__(self, **changes: Any) -> Runtime: ...


class FakeClock:
    """Stands in for time.sleep and time.monotonic together: a sleep is recorded and moves the clock on
    (so a fake that reads the same clock, like FakeShopify's bucket, sees the time pass), and nobody waits.
    A test moves time on by hand with ``clock.now += seconds``."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def fixture_bytes(name: str) -> bytes:
    """A fixture file's exact bytes (``shopify/…`` or ``bigcommerce/…``)."""
    return (FIXTURES / name).read_bytes()


def shopify_signature(body: bytes, secret: str = SHOPIFY_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def store_shopify_event(
    intake: EventIntake,
    body: bytes,
    *,
    topic: str = "orders/create",
    webhook_id: str = "wh-1",
    shop: str = SHOP_DOMAIN,
    **fields: Any,
) -> int:
    """Store a delivery as the Shopify endpoint would (keyed by its webhook id), without the HTTP; returns
    the event's id. ``fields``: the rest of the Delivery (``ignored_reason``, …)."""
    delivery = Delivery("shopify", shop, topic, webhook_id, webhook_id, body, **{"api_version": "2026-10", **fields})
    return intake.store(delivery).event_id


def shopify_headers(
    body: bytes,
    *,
    topic: str = "orders/create",
    shop: str = SHOP_DOMAIN,
    webhook_id: str = "wh-1",
    secret: str = SHOPIFY_SECRET,
    triggered_at: str | None = None,
    **extra: str,
) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": shopify_signature(body, secret),
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Event-Id": f"event-{webhook_id}",
    }
    if triggered_at:
        headers["X-Shopify-Triggered-At"] = triggered_at
    headers.update(extra)
    return headers


def post_shopify(client: FlaskClient, body: bytes, **kwargs: Any) -> Any:
    return client.post("/webhooks/shopify", data=body, headers=shopify_headers(body, **kwargs))


def bigcommerce_body(
    scope: str = "store/order/created",
    resource_id: int = 250,
    store_hash: str = STORE_HASH,
    event_hash: str | None = "5a7b6cbd2d8a7ad6a7b9f0e2b1c3d4e5f6a7b8c9",
    **data: Any,
) -> bytes:
    payload: dict[str, Any] = {
        "created_at": 1700000000,
        "store_id": "1025646",
        "producer": f"stores/{store_hash}",
        "scope": scope,
        "data": {"type": scope.split("/")[1], "id": resource_id, **data},
    }
    if event_hash is not None:
        payload["hash"] = event_hash
    return json.dumps(payload).encode()


def store_bigcommerce_event(intake: EventIntake, body: bytes) -> int:
    """Store a delivery to STORE_HASH as the BigCommerce endpoint would (keyed by its scope and hash), without
    the HTTP; returns the event's id."""
    payload = json.loads(body)
    scope, event_hash = payload["scope"], payload["hash"]
    delivery = Delivery("bigcommerce", STORE_HASH, scope, event_hash, f"{scope}:{event_hash}", body)
    return intake.store(delivery).event_id


def post_bigcommerce(client: FlaskClient, body: bytes, token: str, **headers: str) -> Any:
    return client.post(
        "/webhooks/bigcommerce",
        data=body,
        headers={"Content-Type": "application/json", "X-Webhook-Token": token, **headers},
    )


def invoke(app: Flask, *args: str) -> Result:
    """Run ``flask --app integration ARGS`` in this process: like FlaskGroup, push the app's context first."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


def add_shop(
    runtime: Runtime,
    platform: str = "shopify",
    identifier: str = SHOP_DOMAIN,
    token: str = SHOPIFY_TOKEN,
    *,
    grant: TokenGrant | None = None,
    **columns: Any,
) -> RegisteredShop:
    """A shop registered as an install would (tokens encrypted, active), then ``columns`` set on its row
    (``vip_threshold_override``, ``time_zone``, …)."""
    with runtime.session() as session:
        shop = register_shop(session, runtime.cipher, platform, identifier, token, grant=grant)
    if columns:
        update_shop(runtime, shop.id, **columns)
    return shop


def update_shop(runtime: Runtime, shop_id: int, **columns: Any) -> None:
    """Set columns on a shop's row (``state=ShopState.UNINSTALLED``, a foreign ``access_token_enc``, …)."""
    with runtime.session() as session:
        session.execute(sa.update(Shop).where(Shop.id == shop_id).values(**columns))


def shop_row(runtime: Runtime, shop_id: int) -> Shop:
    """The shop's row as it is now, detached from its session."""
    with runtime.session() as session:
        shop = session.get_one(Shop, shop_id)
        session.expunge(shop)
        return shop


def add_customer(
    runtime: Runtime, shop_id: int, platform_id: str | None = None, *, email: str | None = None, **columns: Any
) -> int:
    """A customer of ``shop_id`` as the upserts would have stored it (changed now unless ``columns`` say
    otherwise); returns its id."""
    with runtime.session() as session:
        customer = Customer(
            shop_id=shop_id, platform_customer_id=platform_id, email=email, **{"source_updated_at": utcnow(), **columns}
        )
        session.add(customer)
        session.flush()
        return customer.id


@contextmanager
def job_environment(settings: Settings) -> Iterator[None]:
    """Jobs build their runtime from the environment, as in a real worker; give them the test's."""
    from integration.core.runtime import get_runtime

    saved = dict(os.environ)
    os.environ.update(settings_env(settings))
    get_runtime.cache_clear()
    try:
        yield
    finally:
        if get_runtime.cache_info().currsize:
            get_runtime().close()
        get_runtime.cache_clear()
        os.environ.clear()
        os.environ.update(saved)


def drain(runtime: Runtime) -> None:
    """Relay waiting events, then run every queued job in this process until the queues are empty."""
    from integration.events.dispatch import relay_once

    while relay_once(runtime):
        pass
    with job_environment(runtime.settings):
        SimpleWorker([runtime.queue(name) for name in ALL], connection=runtime.redis).work(
            burst=True, with_scheduler=False, logging_level="WARNING"
        )


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a subprocess build the same Settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPIFY_", "BIGCOMMERCE_"))}
    env.update(
        APP_ENV=settings.app_env,
        SECRET_KEY=settings.secret_key,
        TOKEN_ENCRYPTION_KEY=settings.token_encryption_key,
        INSTANCE_PATH=str(settings.instance_path),
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.effective_redis_url,
        PUBLIC_URL=settings.public_url,
        SHOPIFY_API_KEY=settings.shopify_api_key,
        SHOPIFY_API_SECRET=settings.shopify_api_secret,
        SHOPIFY_SCOPES=settings.shopify_scopes,
        SHOPIFY_API_SECRET_PREVIOUS=settings.shopify_api_secret_previous,
        BIGCOMMERCE_CLIENT_SECRET=settings.bigcommerce_client_secret,
        BIGCOMMERCE_API_URL=settings.bigcommerce_api_url,
        BIGCOMMERCE_LOGIN_URL=settings.bigcommerce_login_url,
        BIGCOMMERCE_CLIENT_ID=settings.bigcommerce_client_id,
        SHOPIFY_ADMIN_URL=settings.shopify_admin_url,
        SHOPIFY_API_VERSION=settings.shopify_api_version,
        JOB_TIMEOUT=str(settings.job_timeout),
        STALE_AFTER=str(settings.stale_after),
        MAX_ATTEMPTS=str(settings.max_attempts),
        SMTP_URL=settings.smtp_url,
        MAIL_FROM=settings.mail_from,
        SHOP_POSTAL_ADDRESS=settings.shop_postal_address,
        LOG_LEVEL="INFO",
        # prometheus-client's processes share one folder per test (the app factory would otherwise take
        # whatever the test process set last).
        PROMETHEUS_MULTIPROC_DIR=str(settings.metrics_dir),
        METRICS_TOKEN=settings.metrics_token,
        PYTHONPATH=str(ROOT),
    )
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bin_path(name: str) -> str:
    return str(Path(sys.executable).parent / name)


class LiveServer:
    """The app under gunicorn, as the Procfile runs it, in a subprocess: real HTTP.

    ``test_sign_in`` serves ``tests.live_app:app`` instead, the same app plus ``POST /_test/sign-in``;
    ``public_url`` is the address the app believes it is reached at (default: its own, plain http).
    """

    def __init__(
        self, settings: Settings, workers: int = 2, *, test_sign_in: bool = False, public_url: str | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.public_url = public_url or self.url
        self.log = settings.instance_path / f"gunicorn-{self.port}.log"
        self.wsgi_app = "tests.live_app:app" if test_sign_in else "integration.wsgi:app"
        with self.log.open("wb") as log:  # the child keeps its own copy of the descriptor
            self.process = self._spawn(settings, workers, log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=5).ok:
                    return
            except requests.RequestException:  # not listening yet, or too busy booting to answer
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"gunicorn did not start; log:\n{self.log.read_text()}")

    def _spawn(self, settings: Settings, workers: int, log: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                bin_path("gunicorn"),
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--no-control-socket",
                self.wsgi_app,
            ],
            # Its own address is where the platforms (fakes) send the browser back to.
            env={**settings_env(settings), "PUBLIC_URL": self.public_url},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_worker(
    settings: Settings, *, burst: bool = False, extra_env: Mapping[str, str] | None = None, queues: str = "all"
) -> subprocess.Popen[bytes]:
    """A real ``flask --app integration worker`` process (the warmed, non-forking worker, with RQ's
    scheduler) on ``queues`` (``events``, ``bulk`` or ``all``, as the Procfile's worker kinds)."""
    log = settings.instance_path / f"worker-{time.monotonic_ns()}.log"
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [bin_path("flask"), "--app", "integration", "worker", "--queues", queues, *(["--burst"] if burst else [])],
            env={**settings_env(settings), **(extra_env or {})},
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (from /proc), children first."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # Field 4 of /proc/PID/stat is the parent; the name (field 2) may hold spaces, so split after it.
            parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    stack = list(children.get(pid, []))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(children.get(child, []))
    return found


def crash(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process and everything below it, as a machine losing power would. An RQ work horse
    puts itself in its own process group (os.setpgrp), so killing the worker's group alone would leave
    it running, finishing its job into whatever test comes next."""
    for pid in [*descendants(process.pid), process.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait()


def wait_until(predicate: Any, timeout: float = 20.0, interval: float = 0.05, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def apply_changes(runtime: Runtime, shop_id: int, *changes: Any, now: Any = None) -> None:
    """What processing does with one translated event, without the event: each change applied, then every
    domain's reaction to it, in one transaction (``now``: the reactions' clock)."""
    from integration.customers.upserts import apply_change
    from integration.events.processing import reactions

    with runtime.session() as session:
        for change in changes:
            apply_change(session, shop_id, change)
            for reaction in reactions():
                reaction(session, shop_id, change, now=now)  # type: ignore[call-arg]
