"""The process supervisor behind ``flask --app integration serve`` (and so ``make run``).

It runs the Procfile's processes (all but ``release``) and the embedded Redis, and:

* stops in order on SIGTERM, SIGINT or SIGHUP to this one process (what ``docker stop``, systemd,
  ``timeout`` or a closed terminal send): the Procfile's processes first, each with SIGTERM, which is
  a graceful stop for all of them (gunicorn finishes its requests, an RQ worker its job, the scheduler
  its round), then Redis, so nothing loses its Redis while still working. Whatever has not stopped
  within the grace period (or at a second signal) is killed, and only then is the exit status 1;
* restarts a process that exits while nothing asked it to, with backoff, and ends the processes it
  left behind. An RQ worker that dies leaves its scheduler child and its work horse (which puts itself
  in a process group of its own): each child runs in a session of its own, so its process group is
  ended, and this process is a child subreaper, so orphans are reparented here, where they are found
  and ended too;
* prefixes each line the processes print with the time and the process's name.

Linux only (``prctl``), like the embedded Redis. The children also get SIGTERM should this process
die without stopping them (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, TextIO

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")

DEFAULT_GRACE = 25.0  # seconds; above the Procfile's gunicorn --graceful-timeout (20)
ORPHAN_GRACE = 3.0  # seconds an orphan gets between SIGTERM and SIGKILL
STABLE_AFTER = 30.0  # a process that ran this long before exiting restarts without backoff
MAX_BACKOFF = 30.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

Spawn = Callable[[], "subprocess.Popen[bytes] | None"]


def read_procfile(path: Path, *, skip: Iterable[str] = ("release",)) -> list[tuple[str, str]]:
    """``(name, command)`` for each process in a Procfile, in its order, without ``skip``."""
    entries = []
    for line in path.read_text().splitlines():
        match = _PROCFILE_LINE.match(line.strip())
        if match and match.group(1) not in skip:
            entries.append((match.group(1), match.group(2)))
    return entries


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(option, value, 0, 0, 0)


def _die_with_parent() -> None:
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def shell_command(command: str, env: Mapping[str, str], cwd: Path) -> Spawn:
    """Start a Procfile command the way a Procfile runner does (the shell expands ``${VAR:-default}``),
    with ``exec`` so that the signals go to the command itself, not to a shell."""

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            ["/bin/sh", "-c", f"exec {command}"],
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a terminal's Ctrl-C reaches only us
            preexec_fn=_die_with_parent,  # safe: serve starts processes from one thread
        )

    return spawn


@dataclass
class Program:
    name: str
    spawn: Spawn
    last: bool = False  # stopped after the others (the embedded Redis)
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0  # exits in a row, each soon after its start
    restart_at: float | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None


def _children_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # Field 4 is the parent; the name (field 2) may hold spaces, so split after it.
                if int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == parent:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
    return found


def _tree(pid: int) -> list[int]:
    """``pid`` and every live process below it."""
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(_children_of(current))
    return found


def _signal(pids: Iterable[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def _describe(returncode: int) -> str:
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


@dataclass
class Supervisor:
    programs: list[Program] = field(default_factory=list)
    grace: float = DEFAULT_GRACE
    out: TextIO = field(default_factory=lambda: sys.stdout)
    _signals: int = 0
    # What each process prints, by descriptor: its name, the unfinished line, the pipe. The pipe stays
    # here until its end of file (orphans may hold it open after the process itself is gone).
    _outputs: dict[int, tuple[str, bytearray, IO[bytes]]] = field(default_factory=dict)
    _exited: list[Program] = field(default_factory=list)
    _wakeup: int = -1

    def add(self, name: str, spawn: Spawn, *, last: bool = False) -> None:
        self.programs.append(Program(name, spawn, last=last))

    def say(self, name: str, message: str) -> None:
        self.out.write(f"{time.strftime('%H:%M:%S')} {name:<10} | {message}\n")
        self.out.flush()

    # -- the run

    def run(self) -> int:
        """Start everything, supervise until a stop signal, stop in order. Returns the exit status:
        0, or 1 when something had to be killed."""
        read, write = os.pipe()
        os.set_blocking(read, False)
        os.set_blocking(write, False)
        self._wakeup = read
        previous = {s: signal.getsignal(s) for s in (*STOP_SIGNALS, signal.SIGCHLD)}
        old_wakeup = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_stop_signal)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the loop through the pipe
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)
        try:
            # Redis (last to stop) starts first: the others need it from their first second.
            for program in sorted(self.programs, key=lambda p: not p.last):
                if not self._signals:
                    self._start(program)
            while not self._signals:
                self._pump(1.0)
                self._handle_exits()
                now = time.monotonic()
                for program in self.programs:
                    if program.restart_at is not None and program.restart_at <= now and not self._signals:
                        self._start(program)
            return 1 if self._stop() else 0
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            os.close(read)
            os.close(write)

    def _on_stop_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals += 1

    def _start(self, program: Program) -> None:
        program.restart_at = None
        try:
            process = program.spawn()
        except (OSError, RuntimeError, TimeoutError) as exc:
            self._schedule_restart(program, f"could not start ({type(exc).__name__}: {exc})")
            return
        program.process, program.started_at = process, time.monotonic()
        if process is None:
            self.say("serve", f"{program.name}: already running, not started here")
            return
        if process.stdout is not None:
            fd = process.stdout.fileno()
            os.set_blocking(fd, False)
            self._outputs[fd] = (program.name, bytearray(), process.stdout)
        self.say("serve", f"{program.name} started (pid {process.pid})")

    def _schedule_restart(self, program: Program, why: str) -> None:
        ran = time.monotonic() - program.started_at
        program.failures = 0 if ran >= STABLE_AFTER else program.failures + 1
        delay = min(MAX_BACKOFF, 2.0 ** max(program.failures - 1, 0))
        program.restart_at = time.monotonic() + delay
        self.say("serve", f"{program.name} {why} after {ran:.1f}s; restarting in {delay:.0f}s")

    # -- one turn of the loop: output, exits

    def _pump(self, timeout: float) -> None:
        """Copy what the processes printed, reap whatever exited; wait at most ``timeout`` (less when
        a signal or output arrives)."""
        with contextlib.suppress(InterruptedError):
            ready, _, _ = select.select([self._wakeup, *self._outputs], [], [], timeout)
            for fd in ready:
                if fd == self._wakeup:
                    with contextlib.suppress(BlockingIOError):
                        os.read(fd, 512)
                else:
                    self._copy_output(fd)
        self._reap()

    def _copy_output(self, fd: int, *, final: bool = False) -> None:
        name, pending, pipe = self._outputs[fd]
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            chunk = None
        if chunk:
            pending += chunk
        *lines, rest = pending.split(b"\n")
        for line in lines:
            self.say(name, line.decode(errors="replace").rstrip("\r"))
        pending[:] = rest
        if chunk == b"" or final:  # end of file: the process and everything it started are gone
            if pending:
                self.say(name, pending.decode(errors="replace"))
            del self._outputs[fd]
            pipe.close()

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            program = next((p for p in self.programs if p.process is not None and p.process.pid == pid), None)
            if program is not None and program.process is not None:
                program.process.returncode = os.waitstatus_to_exitcode(status)
                self._exited.append(program)
            # else an orphan reparented to us (we are a subreaper): reaped, nothing more to do

    def _handle_exits(self) -> None:
        while self._exited:
            program = self._exited.pop(0)
            assert program.process is not None and program.process.returncode is not None
            how = _describe(program.process.returncode)
            if self._signals:
                self.say("serve", f"{program.name} stopped ({how})")
            else:
                self._end_leftovers(group=program.process.pid)
                self._schedule_restart(program, f"exited unexpectedly ({how})")

    def _end_leftovers(self, group: int | None = None) -> bool:
        """End what dead processes left behind: a dead process's group, and every process reparented
        to us. SIGTERM, then SIGKILL for whatever is still there after ORPHAN_GRACE. True if it killed."""
        if group is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGTERM)
        ours = {p.process.pid for p in self.programs if p.running and p.process is not None}
        orphans = [pid for child in _children_of(os.getpid()) if child not in ours for pid in _tree(child)]
        if orphans:
            self.say("serve", f"ending {len(orphans)} orphaned process(es): {', '.join(map(str, orphans))}")
            _signal(orphans, signal.SIGTERM)

        def left() -> list[int]:
            return [*(_members(group) if group is not None else []), *(pid for pid in orphans if _alive(pid))]

        remaining = self._wait(left, ORPHAN_GRACE)
        if remaining:
            self.say("serve", f"killing {', '.join(map(str, remaining))}: alive {ORPHAN_GRACE:.0f}s after SIGTERM")
            _signal(remaining, signal.SIGKILL)
        return bool(remaining)

    def _wait(self, left: Callable[[], list[int]], timeout: float) -> list[int]:
        """Keep the loop turning until ``left()`` is empty or ``timeout`` passed; what is still left."""
        deadline = time.monotonic() + timeout
        while (remaining := left()) and time.monotonic() < deadline:
            self._pump(0.05)
            if self._signals:  # stopping: say what stopped as it stops (nothing is restarted now)
                self._handle_exits()
        return remaining

    # -- the stop

    def _stop(self) -> bool:
        """Stop the Procfile's processes, then the last ones (Redis). True if anything was killed."""
        killed = False
        for program in self.programs:
            program.restart_at = None
        for last in (False, True):
            killed = self._stop_group([p for p in self.programs if p.last is last and p.running]) or killed
            if not last:  # a clean stop leaves none; anything left over would hold on to Redis
                killed = self._end_leftovers() or killed
        for fd in list(self._outputs):
            self._copy_output(fd, final=True)
        self.say("serve", "stopped" + (" (some processes had to be killed)" if killed else ""))
        return killed

    def _stop_group(self, group: list[Program]) -> bool:
        """SIGTERM each, wait up to the grace period (cut short by another stop signal), then SIGKILL
        whatever is still running, with everything below it. True if it killed."""
        if not group:
            return False
        self.say("serve", f"stopping {', '.join(p.name for p in group)}")
        signals_seen = self._signals
        pids = {p.process.pid: p for p in group if p.process is not None}
        _signal(pids, signal.SIGTERM)

        def running() -> list[int]:
            return [pid for pid, p in pids.items() if p.running]

        self._wait(lambda: [] if self._signals > signals_seen else running(), self.grace)
        late = running()
        for pid in late:
            self.say("serve", f"{pids[pid].name} did not stop in time; killing it")
            _signal(_tree(pid), signal.SIGKILL)
        self._wait(running, 5.0)
        self._handle_exits()
        return bool(late)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _members(group: int) -> list[int]:
    """Live processes in process group ``group``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
                if int(fields[2]) == group and fields[0] != "Z":
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found
