"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives and can misbehave on purpose."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.helpers import free_port


class Recorder:
    """aiosmtpd handler: records each message; ``faults`` lists what to do to the next conversations.

    * ``drop_at_rcpt``: close the connection when RCPT arrives (nothing was sent);
    * ``drop_after_data``: keep the message, then close the connection before answering 250;
    * ``"550"``/``"451"`` …: answer RCPT with that code.
    """

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.faults: list[str] = []
        self.lock = threading.Lock()

    def _fault(self, stage: str) -> str | None:
        with self.lock:
            if self.faults and self.faults[0].startswith(stage):
                return self.faults.pop(0)
        return None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        fault = self._fault("rcpt")
        if fault == "rcpt:drop":
            server.transport.close()
            return "421 closing"
        if fault is not None:
            code = fault.split(":", 1)[1]
            return f"{code} {'5.1.1 <' + address + '> no such user' if code.startswith('5') else '4.2.0 try later'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(parsed)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        if self._fault("data") == "data:drop":
            server.transport.close()
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self) -> None:
        self.recorder = Recorder()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=free_port())

    def start(self) -> None:
        self.controller.start()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.controller.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        return self.recorder.messages

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()
