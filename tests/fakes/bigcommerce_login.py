"""A real-HTTP fake of BigCommerce's login service: the OAuth token endpoint the install exchanges its code at.

``POST /oauth2/token`` (research §2.2) takes JSON or a form with ``client_id``, ``client_secret``, ``code``,
``context``, ``scope``, ``grant_type=authorization_code`` and ``redirect_uri``. It answers like the
documented example (``tests/fixtures/bigcommerce/bigcommerce_oauth_token_response.json``) for a code a test
issued with :meth:`FakeBigCommerceLogin.issue_code`; codes are single-use, bound to their store, and the
client credentials and redirect URI must be the ones :meth:`configure` set (400/401 otherwise, with the
OAuth error codes).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any

from flask import Response, request

from tests.fakes.bigcommerce_api import load_fixture
from tests.fakes.server import FakeServer
from tests.fakes.server import scripted_response as _response

DEFAULT_SCOPE = (
    "store_v2_orders_read_only store_v2_customers store_v2_information_read_only store_v2_products_read_only"
)


@dataclass
class _Code:
    store_hash: str
    access_token: str
    scope: str
    user: dict[str, Any]
    owner: dict[str, Any]
    answer_context: str | None  # to make the service answer for another store


class FakeBigCommerceLogin(FakeServer):
    """Use ``self.url`` as the code under test's ``bigcommerce_login_url``."""

    name = "fake-bigcommerce-login"

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.app.add_url_rule("/oauth2/token", view_func=self._token, methods=["POST"])
        self.configure("", "", "")

    def configure(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        """The app as registered in the Developer Portal; forgets codes and recorded exchanges."""
        with self._lock:
            self.client_id = client_id
            self.client_secret = client_secret
            self.redirect_uri = redirect_uri
            self._codes: dict[str, _Code] = {}
            self.exchanges: list[dict[str, str]] = []  # what each POST sent (tests check the fields)
            self.fail_with: int | None = None  # answer every exchange with this status

    def issue_code(
        self,
        store_hash: str,
        access_token: str,
        *,
        scope: str = DEFAULT_SCOPE,
        user_id: int = 24654,
        owner_id: int = 24654,
        user_email: str = "merchant@example.com",
        answer_context: str | None = None,
    ) -> str:
        """A code the merchant's browser would bring to our auth callback for ``store_hash``."""
        sample = load_fixture("bigcommerce_oauth_token_response.json")
        user = {**sample["user"], "id": user_id, "email": user_email, "username": user_email}
        owner = {**sample["owner"], "id": owner_id}
        code = "code-" + secrets.token_urlsafe(12)
        with self._lock:
            self._codes[code] = _Code(store_hash, access_token, scope, user, owner, answer_context)
        return code

    def _token(self) -> Response:
        form = request.get_json(silent=True) if request.is_json else request.form.to_dict()
        if not isinstance(form, dict):
            return _response(400, {"error": "invalid_request"})
        fields = {k: str(v) for k, v in form.items()}
        with self._lock:
            self.exchanges.append(fields)
            if self.fail_with is not None:
                return _response(self.fail_with, {"error": "server_error"})
            if fields.get("client_id") != self.client_id or fields.get("client_secret") != self.client_secret:
                return _response(401, {"error": "invalid_client"})
            if fields.get("grant_type") != "authorization_code":
                return _response(400, {"error": "unsupported_grant_type"})
            if fields.get("redirect_uri") != self.redirect_uri:
                return _response(400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"})
            code = self._codes.pop(fields.get("code", ""), None)  # single use
        if code is None:
            return _response(400, {"error": "invalid_grant"})
        if fields.get("context") != f"stores/{code.store_hash}":
            return _response(400, {"error": "invalid_grant", "error_description": "context mismatch"})
        sample = load_fixture("bigcommerce_oauth_token_response.json")
        return _response(
            200,
            {
                **sample,
                "access_token": code.access_token,
                "scope": code.scope,
                "user": code.user,
                "owner": code.owner,
                "context": code.answer_context or f"stores/{code.store_hash}",
            },
        )
