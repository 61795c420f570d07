"""The shape every refused delivery must have, shared by both platforms' endpoint tests."""

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
