"""Sign a fixture and POST it to a running app, the way the platform would.

    python -m scripts.send_webhook shopify tests/fixtures/shopify/shopify_orders_create.json \
        --topic orders/create --shop demo.myshopify.com
    python -m scripts.send_webhook bigcommerce \
        tests/fixtures/bigcommerce/bigcommerce_webhook_order_created.json \
        --store-hash abc123 --token <webhook token printed by `shops add`>

Shopify bodies are signed with SHOPIFY_API_SECRET (from the environment, or --secret). BigCommerce
bodies get their ``producer`` set to the store and carry the store's webhook token.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from pathlib import Path

import requests

from webhooks.signatures import shopify_hmac


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("platform", choices=["shopify", "bigcommerce"])
    parser.add_argument("fixture", type=Path)
    parser.add_argument("--url", default=os.environ.get("PUBLIC_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--topic", default="orders/create", help="Shopify topic")
    parser.add_argument("--shop", default="demo.myshopify.com", help="Shopify shop domain")
    parser.add_argument("--webhook-id", default=None, help="default: a fresh one (send the same twice to see dedupe)")
    parser.add_argument("--secret", default=os.environ.get("SHOPIFY_API_SECRET", ""), help="Shopify app secret")
    parser.add_argument("--store-hash", default="abc123", help="BigCommerce store hash")
    parser.add_argument("--token", default="", help="BigCommerce webhook token")
    args = parser.parse_args(argv)

    body = args.fixture.read_bytes()
    if args.platform == "shopify":
        if not args.secret:
            parser.error("set SHOPIFY_API_SECRET or pass --secret")
        url = args.url.rstrip("/") + "/webhooks/shopify"
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Hmac-Sha256": shopify_hmac(body, args.secret.encode()),
            "X-Shopify-Topic": args.topic,
            "X-Shopify-Shop-Domain": args.shop,
            "X-Shopify-Webhook-Id": args.webhook_id or str(uuid.uuid4()),
            "X-Shopify-API-Version": "2026-10",
        }
    else:
        if not args.token:
            parser.error("--token is required for BigCommerce (printed by `flask --app integration shops add`)")
        payload = json.loads(body)
        payload["producer"] = f"stores/{args.store_hash}"
        if args.webhook_id:
            payload["hash"] = args.webhook_id
        body = json.dumps(payload).encode()
        url = args.url.rstrip("/") + "/webhooks/bigcommerce"
        headers = {"Content-Type": "application/json", "X-Webhook-Token": args.token}

    response = requests.post(url, data=body, headers=headers, timeout=10)
    print(f"{response.status_code} {response.reason} {response.text.strip()}")
    return 0 if response.ok else 1


if __name__ == "__main__":
    sys.exit(main())
