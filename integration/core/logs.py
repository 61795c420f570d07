"""Structured logs: one JSON object a line (python-json-logger), with the request id on web lines and the
job and event id on job lines.

Nothing here adds request data beyond the id (no path query, no header, no body): what a line says is
what the code logged, and the code logs ids and reasons, never a customer's data or a secret.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import uuid
from typing import Any

from pythonjsonlogger.json import JsonFormatter
from rq.exceptions import StopRequested

# Set around each RQ job by the worker (integration.ops.worker): {"job_id": …, "event_id": …}.
job_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("job_context", default=None)

REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{8,64}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        from flask import g, has_request_context

        if has_request_context():
            record.request_id = g.get("request_id")
        job = job_context.get()
        if job:
            for key, value in job.items():
                setattr(record, key, value)
        return True


def new_request_id(given: str | None) -> str:
    """The caller's X-Request-Id when it looks like one (a proxy's), else a fresh one."""
    return given if given and REQUEST_ID_RE.fullmatch(given) else uuid.uuid4().hex


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """stderr, except that a stop request raised while a line is being written is not swallowed.

    A signal handler runs wherever the main thread is, often inside a log call (RQ's worker logs on every
    step). RQ's SIGINT/SIGTERM handler raises ``StopRequested``; ``Handler.emit`` catches every
    ``Exception`` and hands it to ``handleError``, which printed "--- Logging error ---" and went on: the
    worker never stopped and ``serve`` had to kill it. Failures of writing the line stay logging's."""

    def handleError(self, record: logging.LogRecord) -> None:
        failure = sys.exc_info()[1]
        if isinstance(failure, StopRequested):
            raise failure
        super().handleError(record)


def configure(level: str, fmt: str = "json") -> None:
    """The root logger of this process: one handler on stderr, JSON (or text), with the context filter.

    Like ``logging.basicConfig``, it leaves a root logger that already has someone else's handlers alone
    (pytest's capture, an embedding application); a second call replaces its own handler."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if h.get_name() == "personal-commerce"]
    if root.handlers and not ours:
        return
    handler = _StderrHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                timestamp=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(ContextFilter())
    handler.set_name("personal-commerce")
    for old in ours:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
