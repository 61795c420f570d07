"""EmbeddedRedis: a private redis-server on a unix socket that persists, never evicts, and dies with us."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.core.redis_server import EmbeddedRedis
from tests.helpers import ROOT, wait_until


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short private folder: the socket path must stay under the kernel's ~100-byte limit."""
    path = Path(tempfile.mkdtemp(prefix="pcr-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def servers() -> Iterator[list[EmbeddedRedis]]:
    """Servers a test starts; any still running at the end are stopped."""
    started: list[EmbeddedRedis] = []
    yield started
    for server in reversed(started):
        server.stop()


def start(servers: list[EmbeddedRedis], directory: Path, **kwargs: object) -> EmbeddedRedis:
    server = EmbeddedRedis(directory, **kwargs)  # type: ignore[arg-type]
    servers.append(server)
    return server.start()


def alive(pid: int) -> bool:
    """True while ``pid`` is a running process (a zombie waiting to be reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def config(server: EmbeddedRedis, name: str) -> str:
    with server.client() as client:
        value = client.config_get(name)[name]
    return value.decode() if isinstance(value, bytes) else str(value)


def test_start_ping_stop(short_dir: Path, servers: list[EmbeddedRedis]) -> None:
    server = EmbeddedRedis(short_dir / "redis")
    servers.append(server)
    assert not server.ping()
    assert server.start() is server
    assert len(str(server.socket_path)) < 100
    assert server.socket_path == short_dir / "redis" / "redis.sock"
    assert server.url == f"unix://{short_dir}/redis/redis.sock"
    assert server.ping()
    assert server.process is not None
    pid = server.process.pid
    assert alive(pid)
    with server.client() as client:
        client.set("k", "v")
        assert client.get("k") == b"v"

    server.stop()
    assert not server.ping()
    assert server.process is None
    assert not alive(pid)  # stopped and reaped: no process left behind
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not server.socket_path.exists()
    server.stop()  # stopping twice is harmless


def test_context_manager_starts_and_stops(short_dir: Path) -> None:
    with EmbeddedRedis(short_dir) as server:
        assert server.ping()
        assert server.process is not None
        pid = server.process.pid
    assert not server.ping()
    assert not alive(pid)


def test_persistent_server_appends_and_never_evicts(short_dir: Path, servers: list[EmbeddedRedis]) -> None:
    server = start(servers, short_dir)
    assert config(server, "appendonly") == "yes"
    assert config(server, "appendfsync") == "everysec"
    assert config(server, "maxmemory-policy") == "noeviction"
    assert config(server, "port") == "0"  # the socket only: nothing else on the machine can reach it
    assert config(server, "dir") == str(short_dir)
    assert (short_dir / "redis.conf").is_file()


def test_non_persistent_server_keeps_nothing_and_never_evicts(short_dir: Path, servers: list[EmbeddedRedis]) -> None:
    server = start(servers, short_dir, persistent=False)
    assert config(server, "appendonly") == "no"
    assert config(server, "save") == ""
    assert config(server, "maxmemory-policy") == "noeviction"


def test_second_instance_on_the_same_socket_reuses_the_running_server(
    short_dir: Path, servers: list[EmbeddedRedis]
) -> None:
    first = start(servers, short_dir)
    assert first.process is not None
    pid = first.process.pid
    with first.client() as client:
        client.set("owner", "first")

    second = EmbeddedRedis(short_dir).start()
    assert second.process is None  # nothing started
    with second.client() as client:
        assert client.get("owner") == b"first"
    # Also when only the socket path is shared.
    third = EmbeddedRedis(short_dir / "elsewhere", socket_path=first.socket_path).start()
    assert third.process is None

    second.stop()
    third.stop()
    assert first.ping()  # not ours to stop
    assert alive(pid)
    first.stop()
    assert not alive(pid)


def test_data_survives_a_restart_with_persistence(short_dir: Path, servers: list[EmbeddedRedis]) -> None:
    first = start(servers, short_dir)
    assert first.process is not None
    first_pid = first.process.pid
    with first.client() as client:
        client.set("queued", "job-1")
        client.hset("rq:job:event-1", mapping={"status": "queued"})
    first.stop()
    assert not alive(first_pid)
    assert list(short_dir.glob("appendonly*")), "no append-only file written"

    second = start(servers, short_dir)
    assert second.process is not None
    assert second.process.pid != first_pid  # a new server, not the old one
    with second.client() as client:
        assert client.get("queued") == b"job-1"
        assert client.hgetall("rq:job:event-1") == {b"status": b"queued"}


def test_without_persistence_a_restart_starts_empty(short_dir: Path, servers: list[EmbeddedRedis]) -> None:
    first = start(servers, short_dir, persistent=False)
    with first.client() as client:
        client.set("queued", "job-1")
    first.stop()
    second = start(servers, short_dir, persistent=False)
    with second.client() as client:
        assert client.get("queued") is None


def test_kill_stops_hard(short_dir: Path, servers: list[EmbeddedRedis]) -> None:
    server = start(servers, short_dir, persistent=False)
    assert server.process is not None
    pid = server.process.pid
    server.kill()
    assert not alive(pid)
    assert not server.ping()
    # A stale socket file is left behind, as after a crash; the next start replaces it.
    restarted = start(servers, short_dir, persistent=False)
    assert restarted.ping()


def test_a_stale_socket_file_does_not_block_a_start(short_dir: Path, servers: list[EmbeddedRedis]) -> None:
    stale = short_dir / "redis.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(stale))  # a socket file nobody listens on
    assert stale.exists()
    server = start(servers, short_dir)
    assert server.process is not None
    assert server.ping()


def test_a_socket_path_too_long_for_the_kernel_is_refused(short_dir: Path) -> None:
    server = EmbeddedRedis(short_dir / ("x" * 100))
    with pytest.raises(ValueError, match="too long"):
        server.start()
    assert server.process is None


CHILD = textwrap.dedent(
    """
    import signal
    import sys
    from pathlib import Path

    from integration.core.redis_server import EmbeddedRedis

    server = EmbeddedRedis(Path(sys.argv[1]))
    server.start()
    print(server.process.pid, flush=True)
    signal.pause()
    """
)


def test_the_server_dies_with_the_process_that_started_it(short_dir: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(short_dir)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    redis_pid = 0
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line.strip().isdigit(), f"the child printed {line!r}"
        redis_pid = int(line)
        assert alive(redis_pid)
        assert parent_of(redis_pid) == parent.pid
        assert EmbeddedRedis(short_dir).ping()

        parent.send_signal(signal.SIGKILL)  # no cleanup code runs in the parent
        parent.wait(timeout=10)
        wait_until(lambda: not alive(redis_pid), timeout=10, message="redis-server to die with its parent")
        assert not EmbeddedRedis(short_dir).ping()
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if redis_pid and alive(redis_pid):
            os.kill(redis_pid, signal.SIGKILL)
        if parent.stdout is not None:
            parent.stdout.close()
