"""Cookie sessions for the pages people use, and none for the machine-to-machine endpoints."""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

# Platforms and probes never carry our session cookie; opening one costs a signing serializer
# per request, which is a measurable share of the webhook request path.
SESSIONLESS_PREFIXES = ("/webhooks/", "/healthz", "/readyz")


class AppSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(SESSIONLESS_PREFIXES):
            return None  # Flask substitutes a null session, which refuses writes loudly
        return super().open_session(app, request)
