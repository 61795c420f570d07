"""The merchant's settings page: who may see it, CSRF, validation, saving, the staff roster, headers."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.shops.models import Shop, StaffRole, StaffUser
from integration.web.settings import SECTIONS, Section, sections
from integration.web.shop_section import email_problem
from tests.helpers import add_customer, shop_row
from tests.staff_fixtures import People, add_staff, csrf_token, sign_in

VALID = {
    "section": "shop",
    "time_zone": "Europe/Berlin",
    "postal_address": "Example GmbH\nHauptstraße 1\n10115 Berlin",
    "sender_name": "Olive at Example",
    "sender_email": "olive@example.com",
}


def role_of(runtime: Runtime, staff_id: int) -> str:
    with runtime.session() as db:
        return db.get_one(StaffUser, staff_id).role


def text(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def post_shop(client: FlaskClient, **fields: str) -> Any:
    return client.post("/settings", data={**VALID, "csrf_token": csrf_token(client), **fields})


def roster(client: FlaskClient, staff_id: int, action: str, token: str | None = None) -> Any:
    data = {"section": "staff", "staff_id": str(staff_id), "action": action}
    return client.post("/settings", data={**data, "csrf_token": token or csrf_token(client)})


# --- who may see it ------------------------------------------------------------------------------


def test_nobody_signed_in_is_401_as_a_page(client: FlaskClient, people: People) -> None:
    for response in (client.get("/settings"), client.post("/settings", data=VALID)):
        assert response.status_code == 401
        assert response.mimetype == "text/html"
        assert "sign in by opening the app" in text(response)
        # Nobody signed in: no shop's admin may frame it.
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_staff_who_are_not_the_admin_get_403(client: FlaskClient, people: People) -> None:
    for staff_id in (people.staff, people.rep):
        sign_in(client, staff_id)
        response = client.get("/settings")
        assert response.status_code == 403
        assert "only the shop's owner" in text(response)


def test_a_person_the_platform_removed_is_signed_out(client: FlaskClient, people: People, app_runtime: Runtime) -> None:
    sign_in(client, people.admin)
    with app_runtime.session() as db:
        db.get_one(StaffUser, people.admin).active = False
    assert client.get("/settings").status_code == 401


def test_json_errors_elsewhere_are_unchanged(client: FlaskClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.is_json


# --- showing and saving the shop's details -------------------------------------------------------


def test_the_admin_sees_the_current_values(client: FlaskClient, people: People, app_runtime: Runtime) -> None:
    with app_runtime.session() as db:
        shop = db.get_one(Shop, people.shop.id)
        shop.time_zone_override, shop.postal_address = "America/New_York", "1 Main St\nSpringfield"
        shop.sender_name, shop.sender_email = "Shop & Co", "hello@shop.example"
    sign_in(client, people.admin)
    response = client.get("/settings")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'value="America/New_York"' in page
    assert ">\r\n1 Main St\nSpringfield</textarea>" in page
    assert 'value="Shop &amp; Co"' in page  # escaped
    assert 'value="hello@shop.example"' in page
    assert '<option value="Europe/Berlin">' in page  # the zones offered
    assert '<option value="US/Eastern">' not in page  # legacy aliases are accepted, not offered


@pytest.mark.parametrize("token", [None, "", "not-a-token", "wrong"])
def test_a_post_without_the_right_csrf_token_is_400_and_saves_nothing(
    client: FlaskClient, people: People, app_runtime: Runtime, token: str | None
) -> None:
    sign_in(client, people.admin)
    good = csrf_token(client)
    if token == "wrong":  # a real token, from another session
        other = client.application.test_client()
        sign_in(other, people.admin)
        token = csrf_token(other)
        assert token != good
    data = {**VALID} if token is None else {**VALID, "csrf_token": token}
    response = client.post("/settings", data=data)
    assert response.status_code == 400
    assert "CSRF token" in text(response) and "Reload the page" in text(response)
    assert shop_row(app_runtime, people.shop.id).time_zone is None
    # Roster changes are protected the same way.
    change = {"section": "staff", "staff_id": people.staff, "action": "add"}
    assert client.post("/settings", data=change).status_code == 400
    assert role_of(app_runtime, people.staff) == StaffRole.STAFF


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "'Mars/Olympus_Mons' is not a time zone we know"),
        ({"time_zone": "localtime"}, "is not a time zone we know"),
        ({"sender_email": "not-an-address"}, "Enter an email address like orders@example.com."),
        ({"sender_email": "Olive <olive@example.com>"}, "The part before the @"),
        ({"sender_email": "olive@localhost"}, "The part after the @ is not a domain"),
        ({"sender_email": "olive@example.com\r\nBcc: x@y.com"}, "Enter an email address like"),
        ({"sender_email": "a" * 250 + "@example.com"}, "at most 254 characters"),
        ({"sender_name": "x" * 101}, "Keep the sending name to 100 characters or fewer."),
        ({"sender_name": "Olive\r\nBcc: x@example.com"}, "without line breaks"),
        ({"postal_address": "x" * 501}, "Keep the postal address to 500 characters or fewer."),
    ],
)
def test_invalid_input_shows_the_form_again_with_the_message_and_saves_nothing(
    client: FlaskClient, people: People, app_runtime: Runtime, fields: dict[str, str], message: str
) -> None:
    sign_in(client, people.admin)
    response = post_shop(client, **fields)
    assert response.status_code == 422
    page = text(response)
    assert message in page
    assert 'aria-invalid="true"' in page
    assert 'value="Olive at Example"' in page or "sender_name" in fields  # what was typed stays
    shop = shop_row(app_runtime, people.shop.id)
    assert (shop.time_zone, shop.sender_email, shop.sender_name, shop.postal_address) == (None, None, None, None)


def test_valid_input_is_saved_and_redirects_with_a_flash(
    client: FlaskClient, people: People, app_runtime: Runtime
) -> None:
    sign_in(client, people.admin)
    response = post_shop(client, time_zone=" europe/berlin ", postal_address="Example GmbH\r\nHauptstraße 1\r\n")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/settings#shop")
    shop = shop_row(app_runtime, people.shop.id)
    assert shop.time_zone == "Europe/Berlin"  # as the tz database spells it
    assert shop.postal_address == "Example GmbH\nHauptstraße 1"
    assert (shop.sender_name, shop.sender_email) == ("Olive at Example", "olive@example.com")
    page = client.get(response.headers["Location"])
    assert "Shop settings saved." in text(page)
    assert "Shop settings saved." not in text(client.get("/settings"))  # flashed once


def test_optional_fields_can_be_cleared(client: FlaskClient, people: People, app_runtime: Runtime) -> None:
    sign_in(client, people.admin)
    assert post_shop(client).status_code == 303
    assert post_shop(client, postal_address="", sender_name=" ", sender_email="").status_code == 303
    shop = shop_row(app_runtime, people.shop.id)
    assert shop.time_zone == "Europe/Berlin"
    assert (shop.postal_address, shop.sender_name, shop.sender_email) == (None, None, None)


def zones_of(runtime: Runtime, *customer_ids: int) -> list[str | None]:
    with runtime.session() as db:
        return [db.get_one(Customer, cid).time_zone for cid in customer_ids]


def test_the_time_zone_is_the_platforms_unless_the_merchant_overrides_it(
    client: FlaskClient, people: People, app_runtime: Runtime
) -> None:
    with app_runtime.session() as db:
        shop = db.get_one(Shop, people.shop.id)
        shop.platform_time_zone = shop.time_zone = "America/Chicago"  # as the platform said at install
    from_shop = add_customer(
        app_runtime, people.shop.id, email="a@example.com", time_zone="America/Chicago", time_zone_source="shop"
    )
    from_address = add_customer(
        app_runtime, people.shop.id, email="b@example.com", time_zone="Europe/Paris", time_zone_source="address"
    )
    sign_in(client, people.admin)
    page = text(client.get("/settings"))
    assert "America/Chicago (from Shopify)" in page and "Shopify says America/Chicago" in page
    assert re.search(r'<input [^>]*name="time_zone" type="text" value=""', page)  # no override yet

    assert post_shop(client, time_zone="Europe/Berlin").status_code == 303
    shop = shop_row(app_runtime, people.shop.id)
    assert (shop.time_zone, shop.time_zone_override, shop.platform_time_zone) == (
        "Europe/Berlin",
        "Europe/Berlin",
        "America/Chicago",
    )
    # Whoever uses the shop's zone moves with it; a zone from the customer's own address stays.
    assert zones_of(app_runtime, from_shop, from_address) == ["Europe/Berlin", "Europe/Paris"]
    assert "Europe/Berlin (your override)" in text(client.get("/settings"))

    assert post_shop(client, time_zone="").status_code == 303  # back to the platform's
    shop = shop_row(app_runtime, people.shop.id)
    assert (shop.time_zone, shop.time_zone_override) == ("America/Chicago", None)
    assert zones_of(app_runtime, from_shop, from_address) == ["America/Chicago", "Europe/Paris"]


def test_an_unknown_section_is_400(client: FlaskClient, people: People) -> None:
    sign_in(client, people.admin)
    response = client.post("/settings", data={"section": "nope", "csrf_token": csrf_token(client)})
    assert response.status_code == 400
    assert "names no settings section" in text(response)


@pytest.mark.parametrize(
    "address",
    ["a@example.com", "first.last+tag@mail.example.co.uk", "o'neil@example.com", "x@xn--bcher-kva.example"],
)
def test_plain_addresses_pass_the_email_check(address: str) -> None:
    assert email_problem(address) is None


@pytest.mark.parametrize(
    "address",
    [
        "",
        "@example.com",
        "a@",
        "a@@example.com",
        ".a@example.com",
        "a..b@example.com",
        "a b@example.com",
        "a@-example.com",
        "a@example.c",
        "a@example.123",
        "a@exa_mple.com",
        "a@example..com",
        "ä@example.com",
    ],
)
def test_other_strings_fail_the_email_check(address: str) -> None:
    assert email_problem(address) is not None


# --- the staff roster ----------------------------------------------------------------------------


def test_the_staff_list_shows_the_shops_people(
    client: FlaskClient, people: People, other_shop: People, app_runtime: Runtime
) -> None:
    add_staff(app_runtime, people.shop.id, "4", name="Gone Gary", email="gary@example.com", active=False)
    sign_in(client, people.admin)
    page = text(client.get("/settings"))
    staff = page[page.index('id="staff"') :]
    for name in ("Olive Owner (you)", "Sam Staff", "Rita Rep", "Gone Gary", "sam@example.com"):
        assert name in staff
    assert "Removed on the platform" in staff
    assert "Bea Boss" not in page and "Ben Staff" not in page  # another shop's people

    def row(staff_id: int) -> str:
        found = re.search(rf'<tr id="staff-{staff_id}".*?</tr>', staff, re.S)
        assert found, f"no row for staff {staff_id}"
        return found.group(0)

    assert "roster" not in row(people.admin)  # the admin has no roster button
    assert "Add to roster" in row(people.staff)
    assert "Remove from roster" in row(people.rep)


def test_the_admin_adds_and_removes_a_rep(client: FlaskClient, people: People, app_runtime: Runtime) -> None:
    sign_in(client, people.admin)
    response = roster(client, people.staff, "add")
    assert response.status_code == 303 and response.headers["Location"].endswith("/settings#staff")
    assert role_of(app_runtime, people.staff) == StaffRole.REP
    assert "Sam Staff added to the roster." in text(client.get("/settings"))

    assert roster(client, people.rep, "remove").status_code == 303
    assert role_of(app_runtime, people.rep) == StaffRole.STAFF
    assert "Rita Rep removed from the roster." in text(client.get("/settings"))

    assert roster(client, people.rep, "remove").status_code == 303  # already off: says so, changes nothing
    assert "already off the roster" in text(client.get("/settings"))


def test_the_admin_cannot_demote_themselves(client: FlaskClient, people: People, app_runtime: Runtime) -> None:
    sign_in(client, people.admin)
    for action in ("remove", "add"):
        response = roster(client, people.admin, action)
        assert response.status_code == 400
        assert "You are the shop's admin" in text(response)
    assert role_of(app_runtime, people.admin) == StaffRole.ADMIN


def test_someone_the_platform_removed_cannot_join_the_roster(
    client: FlaskClient, people: People, app_runtime: Runtime
) -> None:
    gone = add_staff(app_runtime, people.shop.id, "4", name="Gone Gary", active=False)
    sign_in(client, people.admin)
    response = roster(client, gone, "add")
    assert response.status_code == 422
    assert "Gone Gary no longer has access" in text(response)
    assert role_of(app_runtime, gone) == StaffRole.STAFF


@pytest.mark.parametrize("data", [{"action": "promote"}, {"staff_id": "abc"}, {"staff_id": ""}])
def test_a_roster_change_the_page_never_makes_is_400(
    client: FlaskClient, people: People, app_runtime: Runtime, data: dict[str, str]
) -> None:
    sign_in(client, people.admin)
    form = {"section": "staff", "staff_id": str(people.staff), "action": "add", **data}
    form["csrf_token"] = csrf_token(client)
    response = client.post("/settings", data=form)
    assert response.status_code == 400
    assert "not one this page offers" in text(response)
    assert role_of(app_runtime, people.staff) == StaffRole.STAFF


def test_another_shops_people_are_not_found(
    client: FlaskClient, people: People, other_shop: People, app_runtime: Runtime
) -> None:
    sign_in(client, people.admin)
    token = csrf_token(client)
    elsewhere = ((other_shop.staff, "add"), (other_shop.rep, "remove"), (other_shop.admin, "remove"), (999, "add"))
    for staff_id, action in elsewhere:
        response = roster(client, staff_id, action, token)
        assert response.status_code == 404
        assert response.mimetype == "text/html"
    assert role_of(app_runtime, other_shop.staff) == StaffRole.STAFF
    assert role_of(app_runtime, other_shop.rep) == StaffRole.REP
    assert role_of(app_runtime, other_shop.admin) == StaffRole.ADMIN


# --- headers -------------------------------------------------------------------------------------


def test_only_the_signed_in_shops_admin_may_frame_the_page(
    client: FlaskClient, people: People, other_shop: People
) -> None:
    sign_in(client, people.admin)
    response = client.get("/settings")
    csp = response.headers["Content-Security-Policy"]
    frame = re.search(r"frame-ancestors ([^;]+)", csp)
    assert frame and frame.group(1).split() == ["https://demo-shop.myshopify.com", "https://admin.shopify.com"]
    assert "'unsafe-inline'" not in csp and "script-src 'self'" in csp and "form-action 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert "X-Frame-Options" not in response.headers  # would forbid the platform's own frame

    sign_in(client, other_shop.admin)
    csp = client.get("/settings").headers["Content-Security-Policy"]
    assert re.search(r"frame-ancestors ([^;]+)", csp).group(1) == "https://store-abc123.mybigcommerce.com"  # type: ignore[union-attr]
    assert "myshopify" not in csp


def test_the_page_has_no_inline_script_or_style(client: FlaskClient, people: People) -> None:
    sign_in(client, people.admin)
    page = client.get("/settings").get_data(as_text=True)
    assert "<script" not in page and "<style" not in page and " style=" not in page
    css = client.get("/static/app.css")
    css.close()
    assert css.status_code == 200


# --- the section registry ------------------------------------------------------------------------


def test_sections_resolve_in_page_order() -> None:
    found = sections()
    assert [s.key for s in found] == ["shop", "staff", "email"]
    assert len(found) == len(SECTIONS) and all(isinstance(s, Section) for s in found)


def test_the_page_shows_every_section(client: FlaskClient, people: People) -> None:
    sign_in(client, people.admin)
    page = client.get("/settings").get_data(as_text=True)
    for section in sections():
        assert f'<section id="{section.key}"' in page and f"<h2>{section.title}</h2>" in page


def test_test_sign_in_refuses_unknown_people(client: FlaskClient, people: People) -> None:
    assert client.post("/_test/sign-in", data={"staff_id": "999"}).status_code == 404
    assert client.post("/_test/sign-in", data={}).status_code == 400
