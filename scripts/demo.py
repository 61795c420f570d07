"""``make demo``: the whole product on this machine, driven the way the platforms would drive it.

Starts local stand-ins for Shopify's Admin API and OAuth, and for BigCommerce's API and login service
(the suite's real-HTTP fakes, filled with the demo's customers and orders), starts the stack (``flask
serve``, its own instance folder ``instance/demo`` and port 8100) unless it is already up, installs a
Shopify shop and a BigCommerce store through the real install callbacks, adds reps and an ops user, then
pushes a burst of signed webhooks through the real HTTP edge: customers across time zones, their orders
and deliveries, a duplicate, an out-of-order update and a forged request. It waits until every event is
processed and prints where to look. Data comes from Faker with a fixed seed, and every webhook has a
fixed id, so running it again stores nothing twice.

    python -m scripts.demo [--customers 240] [--port 8100] [--exit]

Without ``--exit`` it keeps the stack and the stand-ins running until Ctrl-C.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import hmac
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import sqlalchemy as sa

from scripts import demo_data as data

ROOT = Path(__file__).resolve().parents[1]
SHOP = "personal-commerce-demo.myshopify.com"
STORE = "pcdemo1"
API_KEY, SHOPIFY_SECRET = "demo-api-key", "demo-shopify-secret-not-for-production"
BC_CLIENT, BC_SECRET = "demo-client-id", "demo-bigcommerce-secret-not-for-production"
BC_TOKEN = "demo-bigcommerce-access-token"  # noqa: S105 - the stand-in's, for the demo only
OPS_EMAIL, OPS_PASSWORD = "ops@demo.example", "demo-ops-password"
REPS = (("Rita Rep", "rita@demo.example", "America/New_York"), ("Ravi Rep", "ravi@demo.example", "Europe/London"))


def say(text: str) -> None:
    print(f"demo: {text}", flush=True)


def start_stand_ins() -> tuple[Any, Any, Any]:
    # The suite's fakes are real HTTP servers; imported by name so the app's type check stays on the app.
    catalogue = importlib.import_module("tests.fakes.catalogue")
    attributes = importlib.import_module("tests.fakes.bigcommerce_attributes")
    login = importlib.import_module("tests.fakes.bigcommerce_login")
    shopify = catalogue.CatalogueShopify().start()
    shopify.oauth.configure(api_key=API_KEY, secret=SHOPIFY_SECRET)
    bigcommerce = catalogue.CatalogueBigCommerce()
    attributes.install(bigcommerce)
    bigcommerce.start()
    bc_login = login.FakeBigCommerceLogin().start()
    return shopify, bigcommerce, bc_login


def environment(instance: Path, port: int, shopify: Any, bigcommerce: Any, bc_login: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPIFY_", "BIGCOMMERCE_", "DATABASE_", "REDIS_"))}
    env.update(
        APP_ENV="development",
        INSTANCE_PATH=str(instance),
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        SHOPIFY_API_KEY=API_KEY,
        SHOPIFY_API_SECRET=SHOPIFY_SECRET,
        SHOPIFY_ADMIN_URL=shopify.admin_url_template,
        BIGCOMMERCE_CLIENT_ID=BC_CLIENT,
        BIGCOMMERCE_CLIENT_SECRET=BC_SECRET,
        BIGCOMMERCE_API_URL=bigcommerce.url,
        BIGCOMMERCE_LOGIN_URL=bc_login.url,
        PYTHONPATH=str(ROOT),
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def flask(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "--app", "integration", *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def ready(url: str) -> bool:
    try:
        return requests.get(url + "/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def start_stack(env: dict[str, str], port: int, instance: Path) -> subprocess.Popen[bytes]:
    log = (instance / "serve.log").open("ab")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "flask"), "--app", "integration", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while not ready(f"http://127.0.0.1:{port}"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the stack did not get ready; see {instance / 'serve.log'}")
        time.sleep(0.5)
    return process


def fill_stand_ins(people: list[data.Person], shopify: Any, bigcommerce: Any) -> None:
    shopify.add_shop(SHOP, "replaced-by-the-install")  # the OAuth exchange hands the app its own token
    bigcommerce.add_store(STORE, BC_TOKEN)
    for p in people:
        if p.n % 2 == 0:
            shopify.add_customer(SHOP, 9_000_000 + p.n, email=p.email, firstName=p.first, lastName=p.last)
            for order in p.orders:
                shopify.add_order(SHOP, 7_000_000 + p.n * 10 + order["k"], data.iso(order["placed"]))
        else:
            bigcommerce.add_customer(STORE, data.bc_customer(p))
            for order in p.orders:
                body, products, shipping = data.bc_order(p, order)
                bigcommerce.add_order(STORE, body, products, shipping)


def install(url: str, shopify: Any, bc_login: Any) -> None:
    """Both installs through the app's own callbacks, as the merchants' browsers would."""
    with requests.Session() as browser:
        query = {"shop": SHOP, "timestamp": str(int(time.time()))}
        answer = browser.get(url + "/shopify/install", params=shopify.oauth.signed_query(query), allow_redirects=False)
        state = parse_qs(urlsplit(answer.headers["Location"]).query)["state"][0]
        callback = {
            "code": shopify.oauth.issue_code(SHOP),
            "shop": SHOP,
            "state": state,
            "timestamp": query["timestamp"],
        }
        done = browser.get(
            url + "/shopify/callback", params=shopify.oauth.signed_query(callback), allow_redirects=False
        )
        if done.status_code >= 400:
            raise SystemExit(f"the Shopify install failed: {done.status_code} {done.text[:200]}")
    bc_login.configure(BC_CLIENT, BC_SECRET, f"{url}/bigcommerce/auth")
    code = bc_login.issue_code(STORE, BC_TOKEN)
    with requests.Session() as browser:
        done = browser.get(
            url + "/bigcommerce/auth",
            params={"code": code, "scope": "store_v2_orders_read_only", "context": f"stores/{STORE}"},
            allow_redirects=False,
        )
        if done.status_code >= 400:
            raise SystemExit(f"the BigCommerce install failed: {done.status_code} {done.text[:200]}")


def post_shopify(url: str, topic: str, body: dict[str, Any], webhook_id: str, secret: str = SHOPIFY_SECRET) -> int:
    raw = json.dumps(body).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": signature,
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Event-Id": f"event-{webhook_id}",
    }
    return requests.post(url + "/webhooks/shopify", data=raw, headers=headers, timeout=10).status_code


def post_bigcommerce(url: str, body: dict[str, Any], token: str) -> int:
    headers = {"Content-Type": "application/json", "X-Webhook-Token": token}
    return requests.post(url + "/webhooks/bigcommerce", data=json.dumps(body), headers=headers, timeout=10).status_code


def burst(url: str, people: list[data.Person], bigcommerce: Any) -> dict[str, int]:
    """Every delivery has a fixed id: a second run's are duplicates, stored once."""
    answers: dict[str, int] = {}

    def note(status: int) -> None:
        answers[str(status)] = answers.get(str(status), 0) + 1

    hooks = bigcommerce.hooks_of(STORE)
    token = next(iter(h["headers"]["X-Webhook-Token"] for h in hooks if h.get("headers")), "")
    serial = 0
    for p in people:
        for order in p.orders:
            serial += 1
            if p.n % 2 == 0:
                note(post_shopify(url, "orders/create", data.shopify_order(p, order), f"demo-order-{p.n}-{order['k']}"))
                if order["k"] == 0 and p.n % 3 == 0:  # delivered: the check-in's clock starts
                    note(
                        post_shopify(
                            url, "fulfillment_events/create", data.shopify_delivery(p, order), f"demo-delivery-{p.n}"
                        )
                    )
            else:
                if order["k"] == 0:
                    note(post_bigcommerce(url, data.bc_hook("store/customer/created", 100 + p.n, STORE, serial), token))
                order_id = 5000 + p.n * 10 + order["k"]
                note(post_bigcommerce(url, data.bc_hook("store/order/created", order_id, STORE, serial), token))
    first = people[0]
    order = first.orders[0]
    # The same delivery again (a platform retry), answered 200 and counted, not stored twice.
    note(post_shopify(url, "orders/create", data.shopify_order(first, order), f"demo-order-{first.n}-0"))
    # Out of order: the newer update arrives first; the older one must not win.
    newer, older = order["placed"] + dt.timedelta(hours=2), order["placed"] + dt.timedelta(hours=1)
    note(post_shopify(url, "orders/updated", data.shopify_order(first, order, newer), "demo-update-newer"))
    note(post_shopify(url, "orders/updated", data.shopify_order(first, order, older), "demo-update-older"))
    # A forged request: signed with a secret that is not the app's. Refused with 401, stored nowhere.
    note(post_shopify(url, "orders/create", data.shopify_order(first, order), "demo-forged", secret="not-the-secret"))  # noqa: S106
    return answers


def wait_for_events(env: dict[str, str], timeout: float = 300) -> dict[str, int]:
    from integration.core.config import Settings
    from integration.core.runtime import Runtime
    from integration.events.models import WebhookEvent

    runtime = Runtime.from_settings(Settings.from_env(env))
    try:
        deadline = time.monotonic() + timeout
        while True:
            with runtime.session() as db:
                counts = dict(
                    db.execute(sa.select(WebhookEvent.status, sa.func.count()).group_by(WebhookEvent.status)).all()
                )
            if not {"received", "processing"} & set(counts) or time.monotonic() > deadline:
                return {str(k): int(v) for k, v in counts.items()}
            time.sleep(1)
    finally:
        runtime.close()


def rep_link(url: str, email: str, env: dict[str, str]) -> str | None:
    """A rep's sign-in link, asked for through the sign-in form and read from the outbox."""
    import re

    from integration.core.config import Settings
    from integration.core.runtime import Runtime
    from integration.messaging.models import OutboxMessage

    with requests.Session() as browser:
        page = browser.get(url + "/workspace/sign-in", timeout=10).text
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        browser.post(url + "/workspace/sign-in", data={"email": email, "csrf_token": found.group(1) if found else ""})
    runtime = Runtime.from_settings(Settings.from_env(env))
    try:
        with runtime.session() as db:
            text = db.scalar(
                sa.select(OutboxMessage.text_body)
                .where(OutboxMessage.recipient == email)
                .order_by(OutboxMessage.id.desc())
            )
    finally:
        runtime.close()
    match = re.search(r"(https?://\S+/workspace/sign-in/\S+)", text or "")
    return match.group(1) if match else None


def preference_link(env: dict[str, str]) -> str | None:
    """A customer's preference-centre link, read from a thank-you email the pipeline wrote to the outbox
    (without SMTP_URL emails stay there; the thank-you waits for the shop's delay after payment)."""
    import re

    from integration.core.config import Settings
    from integration.core.runtime import Runtime
    from integration.messaging.models import OutboxMessage

    runtime = Runtime.from_settings(Settings.from_env(env))
    try:
        with runtime.session() as db:
            text = db.scalar(
                sa.select(OutboxMessage.text_body)
                .where(OutboxMessage.template == "thank_you")
                .order_by(OutboxMessage.id)
                .limit(1)
            )
    finally:
        runtime.close()
    match = re.search(r"(https?://\S+/p/[A-Za-z0-9._-]+)", text or "")
    return match.group(1) if match else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=240)
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--instance", type=Path, default=ROOT / "instance" / "demo")
    parser.add_argument("--exit", action="store_true", help="Stop the stack and the stand-ins when done.")
    args = parser.parse_args(argv)
    instance: Path = args.instance.resolve()
    instance.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{args.port}"
    if ready(url):
        raise SystemExit(
            f"something already answers on {url}: another `make demo`? Its links: {instance / 'links.json'}"
        )

    people = data.people(args.customers)
    shopify, bigcommerce, bc_login = start_stand_ins()
    stack = None
    try:
        fill_stand_ins(people, shopify, bigcommerce)
        env = environment(instance, args.port, shopify, bigcommerce, bc_login)
        migrated = flask(env, "db", "upgrade")
        if migrated.returncode:
            raise SystemExit(migrated.stdout + migrated.stderr)
        say(f"starting the stack on {url} (log: {instance / 'serve.log'})")
        stack = start_stack(env, args.port, instance)
        say("installing a Shopify shop and a BigCommerce store through their install callbacks")
        install(url, shopify, bc_login)
        for (name, email, zone), shop in zip(REPS, (SHOP, STORE), strict=True):
            flask(env, "reps", "add", shop, "--name", name, "--email", email, "--time-zone", zone)
        flask(env, "ops", "create-user", OPS_EMAIL, "--password-stdin", stdin=OPS_PASSWORD + "\n")
        say(f"pushing a burst of signed webhooks for {len(people)} customers")
        answers = burst(url, people, bigcommerce)
        say(f"answers: {answers}")
        statuses = wait_for_events(env)
        say(f"events by status: {statuses}")
        link = rep_link(url, REPS[0][1], env)
        preferences = preference_link(env)
        links = {
            "Ops console": f"{url}/ops",
            "Rep sign-in link (Rita)": link or f"{url}/workspace/sign-in",
            "Metrics": f"{url}/metrics",
            "Preference centre": preferences or "none yet (no thank-you email was written)",
        }
        (instance / "links.json").write_text(json.dumps({"links": links}, indent=2))
        print(
            f"""
The demo is ready.

  Ops console:        {url}/ops   sign in as {OPS_EMAIL} / {OPS_PASSWORD}
  Rep sign-in link:   {links["Rep sign-in link (Rita)"]}   (works once, for 15 minutes)
  Preference centre:  {links["Preference centre"]}   (a customer's, from their thank-you email in the outbox)
  Front door:         {url}/

What to look at: the overview's chart and counts (one duplicate, one forged request rejected with 401),
Events filtered by shop or topic (open one and reveal its customer data: the reveal is audited),
the out-of-order update on order #D{7_000_000} (the older update did not win), Shops (both installed,
subscriptions checked), and the RQ dashboard at {url}/ops/rq/.
""",
            flush=True,
        )
        if not args.exit:
            say("running; Ctrl-C stops the stack and the stand-ins")
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    finally:
        if stack is not None and stack.poll() is None:
            stack.send_signal(signal.SIGTERM)
            try:
                stack.wait(timeout=40)
            except subprocess.TimeoutExpired:
                stack.kill()
        for fake in (shopify, bigcommerce, bc_login):
            fake.stop()


if __name__ == "__main__":
    sys.exit(main())
