"""Webhook ingest benchmark: ``POST /webhooks/shopify`` against a bare Flask route, in one run.

Both apps are served by gunicorn with the Procfile's own ``web`` command line, on the embedded
defaults (SQLite). wrk sends a ~3 KB signed order body over 8 connections for 10 s after a 2 s
warm-up, each request with its own webhook id (so every request is a real insert, not a duplicate).
Prints req/s, p50 and p99 for both, and the ratio. After the run it checks that every 2xx answered
became exactly one stored row.

    make bench-ingest            # or: python -m bench.ingest --duration 10 --connections 8
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"
SHOP = "bench-shop.myshopify.com"


@dataclass
class Result:
    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    requests: int


def make_body(target: int = 3072) -> bytes:
    """A Shopify-like order of about ``target`` bytes: the sample order cut down, then padded."""
    order = json.loads((ROOT / "tests/fixtures/shopify/shopify_orders_create.json").read_bytes())
    keep = (
        "id",
        "admin_graphql_api_id",
        "name",
        "email",
        "created_at",
        "updated_at",
        "currency",
        "financial_status",
        "fulfillment_status",
        "total_price",
        "customer",
        "shipping_address",
    )
    slim = {k: order[k] for k in keep if k in order}
    item = {k: v for k, v in (order.get("line_items") or [{}])[0].items() if not isinstance(v, list | dict)}
    slim["line_items"] = []
    while len(json.dumps(slim, separators=(",", ":"))) + len(json.dumps(item)) < target - 64:
        slim["line_items"].append(item)
    slim["note"] = ""
    slim["note"] = "x" * max(0, target - len(json.dumps(slim, separators=(",", ":"))))
    return json.dumps(slim, separators=(",", ":")).encode()


def lua_script(path: str, body: bytes, prefix: str) -> str:
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    # Each request gets a fresh webhook id; the HMAC covers the body only, so one signature serves.
    return f"""
wrk.method = "POST"
wrk.body = [==[{body.decode()}]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Shopify-Hmac-Sha256"] = "{signature}"
wrk.headers["X-Shopify-Topic"] = "orders/create"
wrk.headers["X-Shopify-Shop-Domain"] = "{SHOP}"
wrk.headers["X-Shopify-API-Version"] = "2026-10"
local prefix = "{prefix}"
local counter = 0
request = function()
  counter = counter + 1
  wrk.headers["X-Shopify-Webhook-Id"] = prefix .. "-" .. counter
  return wrk.format(nil, "{path}")
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def procfile_web_command(app_path: str, port: int) -> list[str]:
    """The Procfile's ``web`` line, with its ${VAR:-default} expanded and the app swapped in."""
    line = next(ln for ln in (ROOT / "Procfile").read_text().splitlines() if ln.startswith("web:"))
    command = line.split(":", 1)[1].strip()
    values = {"PORT": str(port), "HOST": "127.0.0.1"}
    command = re.sub(
        r"\$\{(\w+):-([^}]*)\}",
        lambda m: values.get(m.group(1), os.environ.get(m.group(1), m.group(2))),
        command,
    )
    args = shlex.split(command)
    args[-1] = app_path
    return [str(Path(sys.executable).parent / args[0]), *args[1:]]


def wait_for(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


def parse_wrk(name: str, output: str) -> Result:
    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        if not match:
            raise ValueError(f"no {label}% latency in wrk output:\n{output}")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non_2xx_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return Result(name, rps, latency("50"), latency("99"), int(non_2xx_match.group(1)) if non_2xx_match else 0, total)


def run_wrk(port: int, route: str, body: bytes, work: Path, duration: int, connections: int, name: str) -> Result:
    """A 2 s warm-up, then the measured run; each with its own webhook id prefix, so no request is
    a duplicate of another (duplicates take a different path)."""
    url = f"http://127.0.0.1:{port}"
    output = ""
    for seconds in (2, duration):
        script = work / f"{uuid.uuid4().hex}.lua"
        script.write_text(lua_script(route, body, uuid.uuid4().hex))
        command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return parse_wrk(name, output)


def serve(app_path: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        procfile_web_command(app_path, port),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_for(port)
    return process, port


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1, help="alternate baseline/webhook this many times")
    parser.add_argument(
        "--database-url", help="measure another database (default: the embedded SQLite); its tables are migrated"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="pc-bench-"))
    env = dict(
        os.environ,
        INSTANCE_PATH=str(work),
        DATABASE_URL=args.database_url or f"sqlite:///{work / 'bench.db'}",
        REDIS_URL="unix:///nonexistent/redis.sock",  # the request path must not need Redis at all
        SHOPIFY_API_SECRET=SECRET,
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    flask = str(Path(sys.executable).parent / "flask")
    subprocess.run([flask, "--app", "integration", "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run(
        [
            flask,
            "--app",
            "integration",
            "shops",
            "add",
            "--platform",
            "shopify",
            "--domain",
            SHOP,
            "--token",
            "t",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    body = make_body()

    results: list[tuple[Result, Result]] = []
    for _ in range(args.rounds):
        process, port = serve("bench.bare_app:app", env)
        try:
            bare = run_wrk(port, "/bare", body, work, args.duration, args.connections, "bare Flask route")
        finally:
            stop(process)
        process, port = serve("integration.wsgi:app", env)
        try:
            hook = run_wrk(
                port, "/webhooks/shopify", body, work, args.duration, args.connections, "POST /webhooks/shopify"
            )
        finally:
            stop(process)
        results.append((bare, hook))

    engine = sa.create_engine(env["DATABASE_URL"])
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT count(*), sum(duplicates) FROM webhook_events")).one()
    engine.dispose()
    print(f"body {len(body)} bytes, {args.connections} connections, {args.duration}s per run, gunicorn as in Procfile")
    print(f"{'':24}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
    for bare, hook in results:
        for r in (bare, hook):
            print(f"{r.name:24}{r.requests_per_s:>10.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.non_2xx:>9}")
        print(f"ratio webhook/bare: {hook.requests_per_s / bare.requests_per_s:.2f}   (target >= 0.80, p99 < 10 ms)")
    print(
        f"stored rows: {stored[0]} (duplicates counted: {stored[1] or 0}); webhook requests answered 2xx: "
        f"{sum(h.requests - h.non_2xx for _, h in results)} (+ warm-up)"
    )
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
