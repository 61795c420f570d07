"""Fixtures for the pages' tests: a shop with its admin and staff, and signing in as one of them."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from integration.core.db import utcnow
from integration.core.runtime import Runtime
from integration.shops.models import StaffRole, StaffUser
from integration.shops.registry import RegisteredShop
from tests.helpers import STORE_HASH, add_shop

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@dataclass(frozen=True)
class People:
    shop: RegisteredShop
    admin: int
    staff: int
    rep: int


def add_staff(
    runtime: Runtime,
    shop_id: int,
    user_id: str,
    *,
    role: str = StaffRole.STAFF,
    name: str | None = None,
    email: str | None = None,
    active: bool = True,
) -> int:
    with runtime.session() as db:
        staff = StaffUser(
            shop_id=shop_id,
            platform_user_id=user_id,
            role=role,
            name=name,
            email=email,
            active=active,
            last_seen_at=utcnow(),
        )
        db.add(staff)
        db.flush()
        return staff.id


def sign_in(client: FlaskClient, staff_id: int) -> None:
    response = client.post("/_test/sign-in", data={"staff_id": str(staff_id)})
    assert response.status_code == 200, response.get_data(as_text=True)


def csrf_token(client: FlaskClient) -> str:
    """The signed-in session's CSRF token, as the settings page hands it out."""
    page = client.get("/settings")
    assert page.status_code == 200, page.get_data(as_text=True)
    found = CSRF_RE.search(page.get_data(as_text=True))
    assert found, "no CSRF token on the settings page"
    return found.group(1)


@pytest.fixture
def people(app_runtime: Runtime) -> People:
    """A Shopify shop with its admin (the owner), one staff member and one rep."""
    shop = add_shop(app_runtime)
    return People(
        shop=shop,
        admin=add_staff(app_runtime, shop.id, "1", role=StaffRole.ADMIN, name="Olive Owner", email="olive@example.com"),
        staff=add_staff(app_runtime, shop.id, "2", name="Sam Staff", email="sam@example.com"),
        rep=add_staff(app_runtime, shop.id, "3", role=StaffRole.REP, name="Rita Rep", email="rita@example.com"),
    )


@pytest.fixture
def other_shop(app_runtime: Runtime) -> People:
    """A BigCommerce store with its own admin, staff and rep."""
    shop = add_shop(app_runtime, "bigcommerce", STORE_HASH, "bc-token")
    return People(
        shop=shop,
        admin=add_staff(app_runtime, shop.id, "10", role=StaffRole.ADMIN, name="Bea Boss"),
        staff=add_staff(app_runtime, shop.id, "11", name="Ben Staff"),
        rep=add_staff(app_runtime, shop.id, "12", role=StaffRole.REP, name="Bo Rep"),
    )
