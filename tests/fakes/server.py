"""What every real-HTTP fake shares: a Flask app served from a background thread on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

from flask import Flask, Response
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: tests read the fake's recorded requests instead."""

    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class FakeServer:
    """Serve ``self.app`` on an OS-assigned port; ``url`` is where the code under test should call."""

    name = "fake"

    def __init__(self) -> None:
        self.app = Flask(type(self).__module__)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> Self:
        if self._server is None:
            self._server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=_QuietHandler)
            # A short poll interval keeps stop() quick (the default makes shutdown wait up to 0.5 s).
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name
            )
            self._thread.daemon = True
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = None
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def scripted_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    """A response as a test scripted it: JSON for data, bytes or text as given, nothing for None."""
    if body is None:
        data: bytes = b""
    elif isinstance(body, bytes):
        data = body
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = json.dumps(body).encode()
    mimetype = "application/json" if body is not None and not isinstance(body, bytes | str) else None
    response = Response(data, status=status, mimetype=mimetype)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
