"""The supervisor behind ``serve``, with small shell programs in place of the app's processes (each
run in a subprocess of its own: the supervisor takes over signal handling and becomes a subreaper)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from integration.cli.supervisor import read_procfile
from tests.helpers import ROOT, descendants, wait_until

Supervise = Callable[..., tuple[subprocess.Popen[bytes], Path]]

DRIVER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from integration.cli.supervisor import Supervisor, shell_command

    supervisor = Supervisor(grace=float(sys.argv[1]))
    for spec in sys.argv[2:]:
        name, command = spec.split("=", 1)
        supervisor.add(name, shell_command(command, os.environ, Path.cwd()))
    sys.exit(supervisor.run())
    """
)


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Supervise]:
    """Start a supervisor on shell programs; whatever a failed test leaves running is killed."""
    started: list[subprocess.Popen[bytes]] = []

    def start(grace: float, **programs: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = tmp_path / "supervisor.log"
        specs = [f"{name}={command}" for name, command in programs.items()]
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-c", DRIVER, str(grace), *specs],
                cwd=tmp_path,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        return process, log

    yield start
    for process in started:
        if process.poll() is None:
            for pid in [*descendants(process.pid), process.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            process.wait()


def _pid_of(log: Path, name: str) -> int:
    found = re.findall(rf"\| {name} started \(pid (\d+)\)", log.read_text())
    return int(found[-1]) if found else 0


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def test_a_process_that_does_not_stop_in_the_grace_period_is_killed_and_the_exit_status_says_so(
    supervise: Supervise,
) -> None:
    process, log = supervise(1.0, stubborn="sh -c 'trap \"\" TERM; sleep 60'", calm="sleep 60")
    wait_until(lambda: _pid_of(log, "stubborn") and _pid_of(log, "calm"), message="both started")
    stubborn = _pid_of(log, "stubborn")

    os.kill(process.pid, signal.SIGTERM)

    assert process.wait(timeout=20) == 1
    output = log.read_text()
    assert "stubborn did not stop in time; killing it" in output
    assert "calm stopped (killed by SIGTERM)" in output
    assert "some processes had to be killed" in output
    assert _gone(stubborn)
    assert "Traceback" not in output


def test_a_process_that_keeps_exiting_is_restarted_with_growing_backoff_and_its_output_named(
    supervise: Supervise,
) -> None:
    process, log = supervise(5.0, flaky="sh -c 'echo flaky says hello; exit 3'", steady="sleep 60")
    wait_until(lambda: "restarting in 2s" in log.read_text(), timeout=30, message="a second restart")
    steady = _pid_of(log, "steady")

    os.kill(process.pid, signal.SIGINT)

    assert process.wait(timeout=20) == 0
    output = log.read_text()
    assert re.search(r"flaky +\| flaky says hello", output)
    assert "flaky exited unexpectedly (exit code 3)" in output
    assert "restarting in 1s" in output
    assert output.count("steady started") == 1  # the rest kept running
    assert _gone(steady)


def test_what_a_dead_process_leaves_behind_is_ended_even_in_a_process_group_of_its_own(
    tmp_path: Path, supervise: Supervise
) -> None:
    """An RQ work horse calls os.setpgrp: ending the dead worker's process group does not reach it."""
    orphan_file = tmp_path / "orphan.pid"
    command = f"sh -c 'setsid sleep 300 & echo $! > {orphan_file}; exec sleep 300'"
    process, log = supervise(5.0, parent=command)
    wait_until(lambda: orphan_file.exists() and orphan_file.read_text().strip(), message="the child started")
    orphan = int(orphan_file.read_text())
    parent = _pid_of(log, "parent")
    wait_until(lambda: os.getpgid(orphan) != os.getpgid(parent), message="setsid to have run")

    os.kill(parent, signal.SIGKILL)

    wait_until(lambda: _gone(orphan), timeout=10, message=f"the orphan ended:\n{log.read_text()}")
    wait_until(lambda: _pid_of(log, "parent") not in (0, parent), timeout=10, message="the restart")
    output = log.read_text()
    assert "parent exited unexpectedly (killed by SIGKILL)" in output
    assert "ending 1 orphaned process(es)" in output
    os.kill(process.pid, signal.SIGTERM)
    assert process.wait(timeout=20) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("release: migrate\nweb: gunicorn app\n# a comment\n\nworker: rq worker\n", ["web", "worker"]),
        ("web:gunicorn --bind ${HOST:-127.0.0.1}:${PORT:-8000}\n", ["web"]),
    ],
)
def test_read_procfile_keeps_the_order_and_leaves_out_release(tmp_path: Path, text: str, expected: list[str]) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text(text)
    assert [name for name, _ in read_procfile(procfile)] == expected
