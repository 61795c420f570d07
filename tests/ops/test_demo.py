"""``make demo`` (``python -m scripts.demo``): it ends with the links printed and every event done, and a
second run stores nothing new."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.helpers import ROOT, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def run_demo(instance: Path, port: int) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.demo",
            "--customers",
            "16",
            "--exit",
            "--instance",
            str(instance),
            "--port",
            str(port),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def events(instance: Path) -> list[tuple[str, str, str]]:
    engine = sa.create_engine(f"sqlite:///{instance / 'personal_commerce.db'}")
    try:
        with engine.connect() as db:
            return [tuple(r) for r in db.execute(sa.text("SELECT dedupe_key, topic, status FROM webhook_events"))]
    finally:
        engine.dispose()


def test_the_demo_prints_its_links_processes_everything_and_runs_twice(tmp_path: Path) -> None:
    instance, port = tmp_path / "demo", free_port()
    first = run_demo(instance, port)
    assert f"Ops console:        http://127.0.0.1:{port}/ops   sign in as ops@demo.example" in first
    assert re.search(rf"Rep sign-in link:   http://127.0.0.1:{port}/workspace/sign-in/\S+", first)
    # A customer's preference centre, read from a thank-you email the pipeline wrote to the outbox.
    assert re.search(rf"Preference centre:  http://127.0.0.1:{port}/p/\S+", first), first
    assert "answers: {'200': " in first and "'401': 1}" in first  # the forged request
    stored = events(instance)
    assert stored and {status for _key, _topic, status in stored} <= {"done", "ignored"}
    topics = {topic for _key, topic, _status in stored}
    assert {"orders/create", "orders/updated", "fulfillment_events/create", "store/order/created"} <= topics
    second = run_demo(instance, free_port())
    assert "The demo is ready." in second
    assert sorted(events(instance)) == sorted(stored)  # nothing twice
