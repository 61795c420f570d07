"""Handing one message to the SMTP server named by ``SMTP_URL``.

``smtp://user:pass@host:port`` upgrades with STARTTLS when the server offers it; ``smtps://`` speaks TLS
from the first byte. The conversation is driven a step at a time (MAIL, RCPT, DATA, then the content) so
that the caller learns the moment the content starts to go: after that a broken connection means the
message may well have arrived, and it must not be sent again (:class:`Unconfirmed`).

Failures are sorted the way SMTP means them: a 4xx reply or a connection failure before the content is
:class:`TransientSendError` (retry later); a 5xx to RCPT is :class:`RecipientRefused` (that address is
permanently bad); any other 5xx is :class:`PermanentSendError`. Server replies can quote the address, so
the recipient is blanked out of every error text.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

__all__ = [
    "PermanentSendError",
    "RecipientRefused",
    "SendError",
    "SmtpTransport",
    "TransientSendError",
    "Unconfirmed",
]

TIMEOUT = 30.0


class SendError(Exception):
    """Why a message was not (known to be) delivered; ``str()`` never holds the recipient's address."""


class TransientSendError(SendError):
    """Try again later: a 4xx reply, or the connection failed before the content was sent."""


class PermanentSendError(SendError):
    """A 5xx reply that retrying will not change (the sender refused, the content refused)."""


class RecipientRefused(PermanentSendError):
    """A 5xx reply to RCPT: this address does not take mail; it is suppressed."""


class Unconfirmed(SendError):
    """The connection broke after the content started to go: the message may have arrived."""


def _redact(text: str, recipient: str) -> str:
    return re.sub(re.escape(recipient), "<recipient>", text, flags=re.IGNORECASE) if recipient else text


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return f"{code} {' '.join(text.split())}"


def _dot_stuffed(data: bytes) -> bytes:
    """The content as DATA carries it: CRLF line ends, a leading dot doubled, ended by CRLF . CRLF."""
    data = re.sub(rb"(?:\r\n|\n|\r(?!\n))", b"\r\n", data)
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


class SmtpTransport:
    def __init__(self, url: str, *, timeout: float = TIMEOUT) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must be smtp://[user:pass@]host[:port] or smtps://…")
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.implicit_tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        client.ehlo()
        if not self.implicit_tls and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
        if self.username:
            client.login(self.username, self.password or "")
        return client

    def send(self, sender: str, recipient: str, content: bytes, *, before_content: Callable[[], None]) -> str:
        """Deliver ``content`` from ``sender`` to ``recipient``; returns the server's final reply.

        ``before_content`` runs once the server has said 354 and before one byte of content goes: the
        caller records there that a failure from now on may hide a delivery.
        """
        client: smtplib.SMTP | None = None
        try:
            try:
                client = self._connect()
                code, reply = client.mail(sender)
                self._check(code, reply, recipient, "sender")
                code, reply = client.rcpt(recipient)
                self._check(code, reply, recipient, "recipient")
                code, reply = client.docmd("DATA")
                if code != 354:
                    self._check(code, reply, recipient, "data", expected=354)
            except (OSError, smtplib.SMTPException) as exc:
                raise TransientSendError(_redact(f"{type(exc).__name__}: {exc}", recipient)) from None
            before_content()
            try:
                client.send(_dot_stuffed(content))
                code, reply = client.getreply()
            except (OSError, smtplib.SMTPException) as exc:
                raise Unconfirmed(
                    _redact(f"connection lost after the message was sent ({type(exc).__name__}: {exc})", recipient)
                ) from None
            self._check(code, reply, recipient, "content")
            return _redact(_reply_text(code, reply), recipient)
        finally:
            if client is not None:
                try:
                    client.quit()
                except (OSError, smtplib.SMTPException):
                    client.close()

    @staticmethod
    def _check(code: int, reply: bytes, recipient: str, stage: str, expected: int | None = None) -> None:
        if (expected is None and 200 <= code < 300) or code == expected:
            return
        text = _redact(f"{stage} refused: {_reply_text(code, reply)}", recipient)
        if 500 <= code < 600:
            raise (RecipientRefused if stage == "recipient" else PermanentSendError)(text)
        raise TransientSendError(text)
