"""``flask --app integration serve``: what ``make run`` starts, started the way make starts it."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from integration.core.config import Settings
from tests.helpers import ROOT, bin_path, free_port, settings_env, wait_until

pytestmark = pytest.mark.slow


def _ready(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet, or too busy booting to answer
        return False


def test_serve_starts_everything_without_an_activated_venv_and_stops_it_all(
    settings: Settings, short_tmp: Path
) -> None:
    """Regression: the Procfile names gunicorn and flask bare, and make does not activate the venv."""
    instance = short_tmp / f"serve-{os.getpid()}"
    port = free_port()
    env = settings_env(settings.replace(instance_path=instance))
    del env["REDIS_URL"]  # the embedded Redis, as on a fresh machine
    env["PATH"] = "/usr/bin:/bin"
    process = subprocess.Popen(
        [bin_path("flask"), "--app", "integration", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until(lambda: _ready(f"http://127.0.0.1:{port}/readyz"), timeout=60, message="ready")
        redis_pid = int((instance / "redis" / "redis.pid").read_text())
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
        output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 0, output
    assert f"listening on http://127.0.0.1:{port}" in output
    assert "stopped" in output
    assert not (instance / "redis" / "redis.sock").exists()  # Redis stopped too, last
    with pytest.raises(ProcessLookupError):
        os.kill(redis_pid, 0)
