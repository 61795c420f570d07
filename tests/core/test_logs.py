"""The process's log handler (integration.core.logs)."""

from __future__ import annotations

import subprocess

from tests.helpers import ROOT, bin_path

# A stop signal that lands while a line is being written, as RQ's handler does when it raises
# StopRequested in the middle of one of the worker's many log calls.
_STOP_WHILE_LOGGING = """
import logging, os, signal, sys
from rq.exceptions import StopRequested
from integration.core.logs import configure

configure("INFO")

def stop(signum, frame):
    raise StopRequested()

signal.signal(signal.SIGINT, stop)

class SignalledWhileWriting:
    def write(self, text):
        os.kill(os.getpid(), signal.SIGINT)
        sys.__stderr__.write(text)

    def flush(self):
        pass

[ours] = [h for h in logging.getLogger().handlers if h.get_name() == "personal-commerce"]
ours.setStream(SignalledWhileWriting())
try:
    logging.getLogger("rq.worker").info("listening")
except StopRequested:
    print("stopped")
else:
    print("swallowed")
"""


def test_a_stop_requested_while_a_line_is_written_reaches_the_worker() -> None:
    """Regression (seen as `serve` killing a worker after Ctrl-C): logging caught RQ's StopRequested
    inside the handler, printed '--- Logging error ---' and went on, so the worker never stopped."""
    done = subprocess.run(
        [bin_path("python"), "-c", _STOP_WHILE_LOGGING], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert done.stdout.strip() == "stopped", done.stdout + done.stderr
    assert "Logging error" not in done.stderr
