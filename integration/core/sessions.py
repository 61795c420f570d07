"""Cookie sessions for the pages people use, and none for the machine-to-machine endpoints."""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

# A session lasts this long from sign-in and is never extended (seconds): then the person signs in again,
# which for staff means opening the app from their platform's admin (integration/web/staff.py).
SESSION_LIFETIME = 12 * 3600
# (A platform that never reports removed users also wants each person re-confirmed within its
# ``PlatformParts.confirm_staff_every``: Shopify, hourly.)

# Platforms and probes never carry our session cookie; opening one costs a signing serializer
# per request, which is a measurable share of the webhook request path.
SESSIONLESS_PREFIXES = ("/webhooks/", "/healthz", "/readyz")


class AppSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(SESSIONLESS_PREFIXES):
            return None  # Flask substitutes a null session, which refuses writes loudly
        return super().open_session(app, request)
