"""An ops user and a signed-in ops client."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from integration import runtime_of
from integration.ops.accounts import create_user

OPS_EMAIL = "oncall@example.org"
OPS_PASSWORD = "correct horse battery staple"


def csrf_from(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: FlaskClient, email: str = OPS_EMAIL, password: str = OPS_PASSWORD) -> object:
    token = csrf_from(client.get("/ops/login").get_data(as_text=True))
    return client.post("/ops/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture
def ops_user(app: Flask) -> int:
    with runtime_of(app).session() as db:
        return create_user(db, OPS_EMAIL, OPS_PASSWORD).id


@pytest.fixture
def ops_client(app: Flask, ops_user: int) -> FlaskClient:
    client = app.test_client()
    response = sign_in(client)
    assert response.status_code == 303  # type: ignore[attr-defined]
    return client
