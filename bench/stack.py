"""End-to-end benchmark of the whole stack, started the Procfile way (``make bench``).

For each database (the embedded SQLite, and PostgreSQL when one answers on 127.0.0.1:5432) it:

1. starts an embedded Redis, migrates a fresh database, registers Shopify shops and BigCommerce stores, and
   starts the stand-ins for the platforms' APIs (BigCommerce's quota enforced: 150 calls per 30 s per store);
2. measures the baselines on the same machine in the same run: the bare Flask route (same gunicorn line,
   the same bodies) and RQ's default worker on a no-op job;
3. starts the Procfile's ``web``, ``worker`` (``--workers`` of them), ``bulk`` and ``scheduler`` lines;
4. posts N signed webhooks from a process of its own (``bench.load``), waits until every stored event is
   finished, and prints events/s end to end, ingest req/s and p99, ingest-to-done p50/p95 (Shopify and
   BigCommerce apart: the fairness check), peak RSS per process, Redis memory per queued event.

    make bench                                  # N=20000
    BENCH_N=5000 make bench                     # a quicker run
    python -m bench.stack --n 5000 --webs 2 --workers 4 --database postgresql   # "past one machine"
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.utils
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

from bench.ingest import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRET = "bench-secret"
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BC_EVENTS_PER_STORE = 60  # 4 calls each: past one 150-call window, so every store gets throttled
REPS_PER_SHOP = 3  # as bench.event_cost: every real order gets a rep (and is considered for a thank-you)
TARGET_P95 = 2.0  # seconds, ingest-to-done at a steady 100 events/s (issue 14)


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {ln.split(":", 1)[0]: ln.split(":", 1)[1].strip() for ln in lines if ":" in ln and not ln.startswith("#")}


def command(line: str, values: dict[str, str]) -> list[str]:
    line = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: values.get(m.group(1), m.group(2)), line)
    args = shlex.split(line)
    return [str(BIN / args[0]), *args[1:]]


class Stack:
    def __init__(self, work: Path, env: dict[str, str]) -> None:
        self.work, self.env, self.processes = work, env, {}  # type: ignore[var-annotated]

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.work / f"{name}.log").open("wb")
        process = subprocess.Popen(args, env=env or self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.processes[name] = process
        return process

    def peak_rss(self) -> dict[str, float]:
        """VmHWM (peak resident set) of each process and its children, in MB."""
        peaks: dict[str, float] = {}
        for name, process in self.processes.items():
            for pid in [process.pid, *_children(process.pid)]:
                label = name if pid == process.pid else f"{name}/child {pid}"
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                match = re.search(r"VmHWM:\s+(\d+) kB", status)
                if match:
                    peaks[label] = int(match.group(1)) / 1024
        return peaks

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system, its reaped children included) of each process and its live children:
        unlike wall time, it does not depend on what else shares the cores."""
        tick = os.sysconf("SC_CLK_TCK")
        used: dict[str, float] = {}
        for name, process in self.processes.items():
            for pid in [process.pid, *_children(process.pid)]:
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                except OSError:
                    continue
                # utime, stime, cutime, cstime are fields 14-17; after the name, index 11-14.
                used[name] = used.get(name, 0.0) + sum(int(f) for f in fields[11:15]) / tick
        return used

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in found]


def wait_healthy(port: int, timeout: float = 60.0) -> None:
    """Until the app answers (gunicorn's master listens before its workers have imported the app: the
    first webhooks would wait for that, and its CPU would be counted as theirs)."""
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"no healthy answer on {port}")


def load(plan: dict[str, Any], work: Path) -> dict[str, Any]:
    plan_path, out_path = work / f"plan-{uuid.uuid4().hex}.json", work / f"out-{uuid.uuid4().hex}.json"
    plan_path.write_text(json.dumps(plan))
    subprocess.run([sys.executable, "-m", "bench.load", str(plan_path), str(out_path)], cwd=ROOT, check=True)
    result: dict[str, Any] = json.loads(out_path.read_text())
    return result


def rq_noop_baseline(env: dict[str, str], jobs: int) -> tuple[float, float]:
    """RQ's default worker (fork per job) on a no-op job: jobs/s (start-up included) and CPU ms per job."""
    from rq import Queue

    connection = redis.Redis.from_url(env["REDIS_URL"])
    queue = Queue("bench-noop", connection=connection)
    queue.enqueue_many([Queue.prepare_data("bench.noop_job.noop", result_ttl=0) for _ in range(jobs)])
    started, cpu = time.monotonic(), _children_cpu()
    subprocess.run(
        [str(BIN / "rq"), "worker", "--burst", "-q", "--url", env["REDIS_URL"], "bench-noop"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return jobs / (time.monotonic() - started), 1000 * (_children_cpu() - cpu) / jobs


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def setup(args: argparse.Namespace, work: Path, database: str) -> tuple[dict[str, str], Any, dict[str, Any]]:
    from integration.core.redis_server import EmbeddedRedis
    from tests.fakes.bigcommerce_api import FakeBigCommerce, sample_customer, sample_order

    own_redis = EmbeddedRedis(work / "redis", socket_path=Path(tempfile.mkdtemp(prefix="pcb-")) / "r.sock").start()
    fake = FakeBigCommerce().start()
    fake.enable_quota(150, 30_000)
    env = dict(
        os.environ,
        INSTANCE_PATH=str(work),
        DATABASE_URL=database,
        REDIS_URL=own_redis.url,
        SHOPIFY_API_SECRET=SECRET,
        BIGCOMMERCE_API_URL=fake.url,
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
        TOKEN_ENCRYPTION_KEY=os.environ.get("TOKEN_ENCRYPTION_KEY", ""),
    )
    if not env["TOKEN_ENCRYPTION_KEY"]:
        del env["TOKEN_ENCRYPTION_KEY"]
    subprocess.run([str(BIN / "flask"), "--app", "integration", "db", "upgrade"], env=env, check=True, cwd=ROOT)
    bc_count = (args.bc_stores or max(1, round(args.n * 0.1 / BC_EVENTS_PER_STORE))) if args.bigcommerce else 0
    plan: dict[str, Any] = {
        "n": args.n,
        "seed": args.seed,
        "shopify_secret": SECRET,
        "customers": args.customers,
        "connections": args.connections,
        "bc_first_order": 100,
        "shopify_shops": [f"bench-{i}.myshopify.com" for i in range(args.shops)],
        "bc_stores": [],
    }
    os.environ.update({k: env[k] for k in ("INSTANCE_PATH", "DATABASE_URL", "REDIS_URL")})
    from bench.reps import SCHEDULES
    from integration.core.config import Settings
    from integration.core.runtime import Runtime
    from integration.reps.hours import parse_hours
    from integration.reps.models import Rep
    from integration.shops.registry import register_shop

    def add_reps(session: Any, shop_id: int, domain: str) -> None:
        for r in range(REPS_PER_SHOP):
            zone, hours = SCHEDULES[r % len(SCHEDULES)]
            session.add(Rep(shop_id=shop_id, name=f"Rep {r}", email=f"rep{r}@{domain}", time_zone=zone,
                            working_hours=parse_hours(hours).to_json()))  # fmt: skip

    runtime = Runtime.from_settings(Settings.from_env())
    with runtime.session() as session:
        for shop in plan["shopify_shops"]:
            add_reps(session, register_shop(session, runtime.cipher, "shopify", shop, "shpat-bench").id, shop)
        for i in range(bc_count):
            store_hash = f"bcbench{i}"
            token = f"bc-token-{i}"
            fake.add_store(store_hash, token)
            registered = register_shop(session, runtime.cipher, "bigcommerce", store_hash, token)
            add_reps(session, registered.id, f"{store_hash}.example.com")
            plan["bc_stores"].append((store_hash, registered.webhook_token))
    stores = [store_hash for store_hash, _ in plan["bc_stores"]]
    for store_hash in stores:
        fake.add_customer(store_hash, sample_customer(11))
    # Real orders, as the Shopify ones (bench.load.real_order): paid and waiting to ship, placed a day ago.
    placed = email.utils.format_datetime(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    real = {"status_id": 11, "status": "Awaiting Fulfillment", "payment_status": "captured",
            "date_created": placed, "date_modified": placed}  # fmt: skip
    for i in range(int(args.n * 0.12) + 10 if stores else 0):  # each BigCommerce order the load may name
        fake.add_order(stores[i % len(stores)], sample_order(id=100 + i, **real))
    runtime.close()
    return env, (own_redis, fake), plan


def finished(engine: sa.Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        total, open_ = connection.execute(
            sa.text(
                "SELECT count(*), sum(CASE WHEN status IN ('received', 'processing') THEN 1 ELSE 0 END) FROM webhook_events"
            )
        ).one()
    return int(total), int(open_ or 0)


def latencies(engine: sa.Engine) -> dict[str, Any]:
    """Ingest-to-done per platform (seconds), and the span from the first stored to the last finished."""
    with engine.connect() as connection:
        from integration.events.models import WebhookEvent as E

        rows = connection.execute(sa.select(E.platform, E.status, E.received_at, E.processed_at)).all()
    by: dict[str, list[float]] = {}
    statuses: dict[str, int] = {}
    first = min(row.received_at for row in rows)
    last = max(row.processed_at for row in rows if row.processed_at is not None)
    for row in rows:
        statuses[row.status] = statuses.get(row.status, 0) + 1
        if row.processed_at is not None:
            by.setdefault(row.platform, []).append((row.processed_at - row.received_at).total_seconds())
    out: dict[str, Any] = {"span": (last - first).total_seconds(), "statuses": statuses, "events": len(rows)}
    for platform, values in by.items():
        values.sort()
        out[platform] = (values[len(values) // 2], values[min(len(values) - 1, int(len(values) * 0.95))], len(values))
    out["outcome"] = outcome(engine)
    return out


def outcome(engine: sa.Engine) -> dict[str, int]:
    """What the events did: real orders counted, profiles given a rep, thank-yous queued."""
    from integration.customers.models import Customer
    from integration.messaging.models import OutboxMessage

    with engine.connect() as connection:
        return {
            "customers": int(connection.scalar(sa.select(sa.func.count()).select_from(Customer)) or 0),
            "with a rep": int(connection.scalar(sa.select(sa.func.count()).where(Customer.rep_id.is_not(None))) or 0),
            "emails queued": int(connection.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) or 0),
        }


def run(args: argparse.Namespace, database: str, label: str) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="pc-stack-"))
    env, (own_redis, fake), plan = setup(args, work, database)
    engine = sa.create_engine(database)
    stack = Stack(work, env)
    lines = procfile()
    result: dict[str, Any] = {"label": label}
    try:
        # Baselines, same machine, same run: the bare route (same gunicorn line) and RQ's default worker.
        port = free_port()
        bare = command(lines["web"], {"PORT": str(port)})
        bare[-1] = "bench.bare_app:app"
        stack.start("bare", bare)
        wait_for(port)
        time.sleep(1)  # its gunicorn workers up
        bare_before = stack.cpu_seconds()["bare"]
        result["bare"] = load({**plan, "ports": [port], "route": "/bare", "seed": plan["seed"] + 1}, work)
        result["bare_cpu"] = stack.cpu_seconds()["bare"] - bare_before
        stack.stop()
        result["rq_noop"] = rq_noop_baseline(env, args.noop_jobs)

        ports = [free_port() for _ in range(args.webs)]
        for k, web_port in enumerate(ports):
            stack.start(f"web{k}", command(lines["web"], {"PORT": str(web_port)}))
        for k in range(args.workers):
            stack.start(f"worker{k}", command(lines["worker"], {}))
        stack.start("bulk", command(lines["bulk"], {}))
        stack.start("scheduler", command(lines["scheduler"], {}))
        for web_port in ports:
            wait_for(web_port)
            wait_healthy(web_port)
        time.sleep(args.settle)  # the workers warm up (imports, zone data) before the load starts
        client = redis.Redis.from_url(env["REDIS_URL"])
        base_memory = int(client.info("memory")["used_memory"])
        # CPU from here on: start-up and warm-up (imports, zone data; seconds of CPU per process) are not
        # the events' cost, and would dominate a small N.
        result["cpu_before_load"] = stack.cpu_seconds()
        result["ingest"] = load({**plan, "ports": ports, "rate": args.rate}, work)
        cpu_after_ingest = stack.cpu_seconds()
        memory_per_event: list[float] = []
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            total, open_ = finished(engine)
            queued = sum(int(client.llen(f"rq:queue:{q}")) for q in ("events",)) * 50
            if queued > 500:
                memory_per_event.append((int(client.info("memory")["used_memory"]) - base_memory) / queued)
            if total and not open_:
                break
            time.sleep(0.5)
        result["rss"] = stack.peak_rss()
        result["cpu"] = stack.cpu_seconds()
        result["cpu_after_ingest"] = cpu_after_ingest
        result["done"] = latencies(engine)
        result["redis_bytes_per_queued_event"] = max(memory_per_event) if memory_per_event else None
        result["bc_429"] = sum(fake.rate_limited(store) for store, _ in plan["bc_stores"])
        result["config"] = {"webs": args.webs, "workers": args.workers, "n": args.n, "database": label,
                            "rate": args.rate,
                            "bc_stores": len(plan["bc_stores"])}  # fmt: skip
        result["load_average"] = os.getloadavg()
    finally:
        stack.stop()
        engine.dispose()
        fake.stop()
        own_redis.stop()
    return result


def report(r: dict[str, Any]) -> None:
    ingest, bare, done = r["ingest"], r["bare"], r["done"]
    ingest_rps = ingest["requests"] / ingest["elapsed"]
    bare_rps = bare["requests"] / bare["elapsed"]
    finished_events = sum(v for k, v in done["statuses"].items() if k not in ("received", "processing"))
    eps = finished_events / done["span"]
    c = r["config"]
    print(f"\n== {c['database']}: {c['n']} webhooks, {c['webs']} web x2 gunicorn workers, {c['workers']} event workers, "
          f"{c['bc_stores']} BigCommerce stores (150 calls / 30 s each)")  # fmt: skip
    print(
        f"ingest (whole stack)   {ingest_rps:8.0f} req/s  p50 {ingest['p50_ms']:.1f} ms  p99 {ingest['p99_ms']:.1f} ms  statuses {ingest['statuses']}"
    )
    print(
        f"ingest (bare route)    {bare_rps:8.0f} req/s  p50 {bare['p50_ms']:.1f} ms  p99 {bare['p99_ms']:.1f} ms   ratio {ingest_rps / bare_rps:.2f}"
    )
    print(f"events stored {done['events']}  by status {done['statuses']}  BigCommerce 429s {r['bc_429']}")
    print(
        f"end to end             {eps:8.1f} events/s ({finished_events} events, first stored to last done {done['span']:.1f} s)"
    )
    noop_rate, noop_cpu_ms = r["rq_noop"]
    print(
        f"RQ default worker, no-op job {noop_rate:8.1f} jobs/s ({noop_cpu_ms:.1f} CPU ms/job)   ratio {eps / noop_rate:.2f}"
    )
    cpu = r["cpu"]
    before = r["cpu_before_load"]
    web_cpu = sum(v - before.get(k, 0.0) for k, v in r["cpu_after_ingest"].items() if k.startswith("web"))
    engine_cpu = sum(v - before.get(k, 0.0) for k, v in cpu.items() if k.startswith(("worker", "scheduler")))
    per_event = 1000 * engine_cpu / finished_events
    per_request = 1000 * web_cpu / ingest["requests"]
    bare_per_request = 1000 * r["bare_cpu"] / bare["requests"]
    print(
        f"CPU per event (event workers + scheduler, from the load's start) {per_event:.2f} ms; per webhook request {per_request:.2f} ms "
        f"(bare route {bare_per_request:.2f} ms, ratio {bare_per_request / per_request:.2f})"
    )
    print(f"  => on 2 uncontended cores the engine alone would do ~{2000 / per_event:.0f} events/s")
    rate = (
        f"at a steady {c['rate']:g} req/s"
        if c.get("rate")
        else "as fast as it answers (a backlog: not the target's case)"
    )
    for platform in ("shopify", "bigcommerce"):
        if platform in done:
            p50, p95, count = done[platform]
            verdict = ("met" if p95 < TARGET_P95 else "NOT met") if c.get("rate") else "n/a"
            print(f"ingest-to-done {platform:12} p50 {p50:6.2f} s  p95 {p95:6.2f} s  ({count} events; {rate}; "
                  f"target p95 < {TARGET_P95:g} s: {verdict})")  # fmt: skip
    print(f"outcome: {done['outcome']}")
    per = r["redis_bytes_per_queued_event"]
    print("Redis memory per queued event: " + (f"{per:.0f} bytes" if per else "n/a (queue never long)"))
    print("machine load average (1, 5, 15 min) at the end: " + ", ".join(f"{x:.1f}" for x in r["load_average"]))
    print("peak RSS MB: " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(r["rss"].items())))


def postgres_url() -> str | None:
    engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"pc_bench_{os.getpid()}"
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
            connection.execute(sa.text(f"CREATE DATABASE {name}"))
    except sa.exc.OperationalError:
        return None
    finally:
        engine.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)"))
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=int(os.environ.get("BENCH_N", "20000")))
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--webs", type=int, default=1, help="web processes (each the Procfile's gunicorn line)")
    parser.add_argument("--workers", type=int, default=1, help="processes of the Procfile's `worker` line")
    parser.add_argument("--shops", type=int, default=20)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rate", type=float, default=0, help="requests/s (0: as fast as it answers)")
    parser.add_argument("--no-bigcommerce", dest="bigcommerce", action="store_false")
    parser.add_argument(
        "--bc-stores",
        type=int,
        default=0,
        help="BigCommerce stores the 10 %% share among (default: one per 60 of their webhooks). At a steady "
        "--rate, few stores (e.g. 2) are what runs them out of quota: the fairness case",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--noop-jobs", type=int, default=500)
    parser.add_argument("--settle", type=float, default=6.0)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    results = []
    if args.database in ("sqlite", "both"):
        work = Path(tempfile.mkdtemp(prefix="pc-sqlite-"))
        results.append(run(args, f"sqlite:///{work / 'bench.db'}", "sqlite"))
        report(results[-1])
    if args.database in ("postgresql", "both"):
        url = postgres_url()
        if url is None:
            print("\nPostgreSQL not reachable on 127.0.0.1:5432: skipped")
        else:
            try:
                results.append(run(args, url, "postgresql"))
            finally:
                drop_database(url)
            report(results[-1])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
