"""The settings page's check-in section: the call script, the calling window and the day counts, edited by
the shop's admin (CSRF, 422 beside the field with what was typed kept, POST-redirect-GET), and used by the
workspace's call page and the scheduling of new calls."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from integration.core.runtime import Runtime
from integration.reps.checkins import rules_for
from integration.reps.hours import parse_hours
from integration.reps.models import CheckInSettings
from tests.helpers import add_shop
from tests.reps.world import ShopWorld, populate, sign_in_rep
from tests.staff_fixtures import People, csrf_token, sign_in

VALID = {
    "section": "checkins",
    "call_script": "  How is the teapot?\r\n\r\nDoes it pour well?\r\nWould you buy from us again?  ",
    "calling_window": " mon-fri 09:30-18:00, sat 10:00-13:00 ",
    "transit_days": "5",
    "delay_days": "3",
    "min_days_between": "45",
}


def text(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def section_of(page: str) -> str:
    start = page.index('<section id="checkins"')
    return page[start : page.index("</section>", start)]


def save(client: FlaskClient, **fields: str) -> Any:
    return client.post("/settings", data={**VALID, "csrf_token": csrf_token(client), **fields})


def stored(runtime: Runtime, shop_id: int) -> CheckInSettings | None:
    with runtime.session() as db:
        row = db.get(CheckInSettings, shop_id)
        if row is not None:
            db.expunge(row)
        return row


def test_the_section_shows_the_defaults_until_the_merchant_changes_them(client: FlaskClient, people: People) -> None:
    sign_in(client, people.admin)
    section = section_of(text(client.get("/settings")))
    assert (
        "Is it living up to your expectations?\nAny questions?\nWhat would you improve?\nWould you recommend us?"
        in (section)
    )
    assert 'value="Mon-Fri 10:00-19:00"' in section
    for name, value in (("transit_days", "4"), ("delay_days", "2"), ("min_days_between", "30")):
        assert re.search(rf'id="{name}"[^>]*value="{value}"|value="{value}"[^>]*id="{name}"', section), name
    for label in ("Call script", "Calling window", "Transit days", "Days after delivery", "Days between calls"):
        assert f">{label}</label>" in section


def test_saving_stores_the_settings_and_redirects_with_a_flash(
    client: FlaskClient, people: People, app_runtime: Runtime
) -> None:
    sign_in(client, people.admin)
    response = save(client)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/settings#checkins")
    row = stored(app_runtime, people.shop.id)
    assert row is not None
    assert row.call_script == "How is the teapot?\nDoes it pour well?\nWould you buy from us again?"
    assert row.calling_window == "Mon-Fri 09:30-18:00; Sat 10:00-13:00"
    assert (row.transit_days, row.delay_days, row.min_days_between) == (5, 3, 45)
    page = text(client.get(response.headers["Location"]))
    assert "Check-in settings saved." in page
    assert 'value="Mon-Fri 09:30-18:00; Sat 10:00-13:00"' in section_of(page)  # shown as saved
    with app_runtime.session() as db:  # and used when calls are placed
        rules = rules_for(db, people.shop.id)
    assert (rules.transit_days, rules.delay_days, rules.min_days_between) == (5, 3, 45)
    assert rules.window == parse_hours("Mon-Fri 09:30-18:00; Sat 10:00-13:00")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"calling_window": "Mon-Fri 10:00-25:00"}, "calling_window", "25:00"),
        ({"calling_window": "weekdays"}, "calling_window", "is not a day"),
        ({"calling_window": ""}, "calling_window", "Enter when customers may be called"),
        ({"delay_days": "-1"}, "delay_days", "from 0 to 60"),
        ({"transit_days": "61"}, "transit_days", "from 0 to 60"),
        ({"min_days_between": "a month"}, "min_days_between", "whole number of days"),
        ({"call_script": " \r\n "}, "call_script", "at least one question"),
        ({"call_script": "\n".join(f"Q{n}?" for n in range(13))}, "call_script", "12 questions or fewer"),
        ({"call_script": "x" * 301}, "call_script", "longer than 300 characters"),
    ],
)
def test_invalid_input_is_422_beside_its_field_keeps_what_was_typed_and_saves_nothing(
    client: FlaskClient, people: People, app_runtime: Runtime, fields: dict[str, str], field: str, message: str
) -> None:
    sign_in(client, people.admin)
    response = save(client, **fields)
    assert response.status_code == 422
    section = section_of(text(response))
    block = re.search(rf'<div class="field has-errors">\s*<label for="{field}".*?</div>', section, re.S)
    assert block is not None, f"no message beside {field}"
    assert 'aria-invalid="true"' in block.group(0) and message in block.group(0)
    # What was typed stays, in every field (the good ones too).
    if field != "calling_window":
        assert 'value="mon-fri 09:30-18:00, sat 10:00-13:00"' in section
    if field != "min_days_between":
        assert 'value="45"' in section
    if field != "call_script":
        assert "How is the teapot?" in section
    else:
        assert fields["call_script"].strip()[:20] in section
    assert stored(app_runtime, people.shop.id) is None


def test_a_post_without_the_csrf_token_is_400_and_staff_who_are_not_the_admin_get_403(
    client: FlaskClient, people: People, app_runtime: Runtime
) -> None:
    sign_in(client, people.admin)
    assert client.post("/settings", data=VALID).status_code == 400
    sign_in(client, people.staff)
    assert client.post("/settings", data={**VALID, "csrf_token": "x"}).status_code == 403
    assert stored(app_runtime, people.shop.id) is None


def test_the_workspace_call_page_reads_the_edited_script(
    client: FlaskClient, people: People, app_runtime: Runtime
) -> None:
    world: ShopWorld = populate(app_runtime, people.shop.id)
    rep_client = client.application.test_client()
    sign_in_rep(rep_client, app_runtime, "rita@example.com")
    call = f"/workspace/checkins/{world.checkins['ada']}"
    assert "Any questions?" in text(rep_client.get(call))
    sign_in(client, people.admin)
    assert save(client).status_code == 303
    page = text(rep_client.get(call))
    assert "How is the teapot?" in page and "Would you buy from us again?" in page
    assert "Any questions?" not in page
    # Back to the four questions: stored as "the default" again.
    default = "Is it living up to your expectations?\nAny questions?\nWhat would you improve?\nWould you recommend us?"
    assert save(client, call_script=default).status_code == 303
    row = stored(app_runtime, people.shop.id)
    assert row is not None and row.call_script is None
    assert "Any questions?" in text(rep_client.get(call))


def test_each_shop_keeps_its_own_settings(client: FlaskClient, people: People, app_runtime: Runtime) -> None:
    other = add_shop(app_runtime, "bigcommerce", "zz9", "bc-token").id
    sign_in(client, people.admin)
    assert save(client).status_code == 303
    assert stored(app_runtime, other) is None
    with app_runtime.session() as db:
        assert rules_for(db, other).delay_days == 2
    assert dt.timedelta(days=stored(app_runtime, people.shop.id).delay_days) == dt.timedelta(days=3)  # type: ignore[union-attr]
