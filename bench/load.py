"""The load: N signed webhooks in the issue's mix, posted from a process of its own (``bench.stack`` runs it).

Mix: 80 % Shopify (orders/create, orders/paid, fulfillment_events/create) across several shops, 10 % exact
repeats of earlier deliveries (same webhook id and body: answered 200, stored once), 10 % BigCommerce thin
order webhooks (each needs its order, products, shipping addresses and customer from the API stand-in).
The Shopify orders are real ones (``real_order``: paid a day ago, not a test, not cancelled), so each is
counted on the profile, gets a rep and is considered for a thank-you; the fixture they start from is a
cancelled test order, which would skip most of that work.

    python -m bench.load PLAN.json OUT.json   # PLAN from bench.stack; prints nothing, writes OUT
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import http.client
import itertools
import json
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHOPIFY_TOPICS = ("orders/create", "orders/paid", "fulfillment_events/create")


def _fixture(name: str) -> Any:
    return json.loads((ROOT / "tests/fixtures" / name).read_bytes())


def real_order(body: bytes, topic: str) -> bytes:
    """The fixture's order made a real one: paid a day ago, not a test, not cancelled, and its customer
    living in the US (the fixture's lives in Canada, where a thank-you waits for consent: none was queued)."""
    if not topic.startswith("orders/"):
        return body
    payload = json.loads(body)
    customer = payload.get("customer") or {}
    if customer.get("default_address"):
        customer["default_address"] = {**customer["default_address"], "city": "Louisville", "province": "Kentucky",
                                       "province_code": "KY", "country": "United States", "country_code": "US",
                                       "country_name": "United States", "zip": "40202"}  # fmt: skip
    placed = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    payload.update(test=False, cancelled_at=None, cancel_reason=None, financial_status="paid", created_at=placed,
                   processed_at=placed, updated_at=placed)  # fmt: skip
    return json.dumps(payload, separators=(",", ":")).encode()


def build(plan: dict[str, Any]) -> list[tuple[str, bytes, dict[str, str]]]:
    """(path, body, headers) per request, deterministic for a seed."""
    rng = random.Random(plan["seed"])
    order = _fixture("shopify/shopify_orders_create.json")
    fulfillment = _fixture("shopify/shopify_fulfillment_events_create.json")
    secret = plan["shopify_secret"].encode()
    requests: list[tuple[str, bytes, dict[str, str]]] = []
    bc_index = itertools.count()
    for n in range(plan["n"]):
        roll = rng.random()
        if roll < 0.10 and requests:
            requests.append(rng.choice(requests))  # an exact repeat of an earlier delivery
            continue
        if roll < 0.20 and plan["bc_stores"]:
            i = next(bc_index)
            store_hash, token = plan["bc_stores"][i % len(plan["bc_stores"])]
            body = json.dumps(
                {
                    "created_at": 1700000000 + n,
                    "store_id": "1",
                    "producer": f"stores/{store_hash}",
                    "scope": "store/order/created",
                    "hash": hashlib.sha1(f"{store_hash}-{n}".encode()).hexdigest(),  # noqa: S324 - an id
                    "data": {"type": "order", "id": plan["bc_first_order"] + i},
                }
            ).encode()
            headers = {"Content-Type": "application/json", "X-Webhook-Token": token}
            requests.append(("/webhooks/bigcommerce", body, headers))
            continue
        shop = plan["shopify_shops"][n % len(plan["shopify_shops"])]
        topic = SHOPIFY_TOPICS[n % len(SHOPIFY_TOPICS)]
        customer = rng.randrange(plan["customers"])
        order_id = 5_000_000 + n
        if topic == "fulfillment_events/create":
            payload = {**fulfillment, "id": 9_000_000 + n, "order_id": order_id - 1}
        else:
            payload = {
                **order,
                "id": order_id,
                "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
                "email": f"c{customer}@example.com",
                "customer": {
                    **order["customer"],
                    "id": 7_000_000 + customer,
                    "email": f"c{customer}@example.com",
                    "admin_graphql_api_id": f"gid://shopify/Customer/{7_000_000 + customer}",
                },
                "financial_status": "paid",
            }
        body = real_order(json.dumps(payload, separators=(",", ":")).encode(), topic)
        signature = base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": shop,
            "X-Shopify-API-Version": "2026-01",
            "X-Shopify-Webhook-Id": f"bench-{plan['seed']}-{n}",
            "X-Shopify-Event-Id": f"bench-event-{plan['seed']}-{n}",
        }
        requests.append(("/webhooks/shopify", body, headers))
    return requests


def post(plan: dict[str, Any]) -> dict[str, Any]:
    """Post every request over ``plan['connections']`` threads (round robin over the web ports), at most
    ``plan['rate']`` requests a second when given. Returns counts and latencies."""
    requests = build(plan)
    if plan.get("route"):  # the baseline: the same bodies to the bare route
        requests = [(plan["route"], body, headers) for _, body, headers in requests]
    ports = plan["ports"]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    cursor = itertools.count()
    rate = plan.get("rate") or 0
    started = time.monotonic()

    def worker(k: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", ports[k % len(ports)], timeout=30)
        mine: list[float] = []
        codes: dict[int, int] = {}
        while (i := next(cursor)) < len(requests):
            if rate:
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            path, body, headers = requests[i]
            sent = time.monotonic()
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
            except OSError:
                connection.close()
                status = 0
            mine.append(time.monotonic() - sent)
            codes[status] = codes.get(status, 0) + 1
        with lock:
            latencies.extend(mine)
            for code, count in codes.items():
                statuses[code] = statuses.get(code, 0) + count

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(plan["connections"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "requests": len(requests),
        "elapsed": elapsed,
        "statuses": statuses,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "bc_events": sum(1 for path, _, _ in requests if path.endswith("bigcommerce")),
    }


if __name__ == "__main__":
    plan_path, out_path = sys.argv[1], sys.argv[2]
    Path(out_path).write_text(json.dumps(post(json.loads(Path(plan_path).read_text()))))
