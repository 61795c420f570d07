"""The shape every refused (and every accepted) delivery's answer must have, for both platforms' endpoints."""

from __future__ import annotations

from werkzeug.test import TestResponse


def assert_error(response: TestResponse, status: int, *not_echoed: str) -> str:
    """A JSON ``{"error": reason}`` with ``status`` that repeats none of ``not_echoed`` (secrets, tokens,
    body content, header values); returns the reason."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    payload = response.get_json()
    assert isinstance(payload, dict)
    assert set(payload) == {"error"}
    reason = payload["error"]
    assert isinstance(reason, str)
    assert reason
    text = response.get_data(as_text=True)
    for value in not_echoed:
        assert value not in text
    return reason


def assert_ok(response: TestResponse) -> None:
    """200 with no body (BigCommerce asks for none; Shopify reads none)."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_data() == b""
