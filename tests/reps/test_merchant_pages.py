"""The merchant's pages: the roster and its forms, the pool, every customer, and the voice of the customer;
the shop's admin only, and only their own shop's rows."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from integration.core.db import utcnow
from integration.core.queues import EVENTS
from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.reps.models import CheckInAttempt, Rep, RepState
from integration.reps.outcomes import record_outcome
from integration.shops.models import StaffRole
from tests.helpers import STORE_HASH, add_shop
from tests.reps.world import Bought, ShopWorld, csrf_from, new_checkin, new_customer, new_order, populate, sign_in_rep
from tests.staff_fixtures import add_staff, sign_in


@pytest.fixture
def world(app_runtime: Runtime) -> ShopWorld:
    return populate(app_runtime, add_shop(app_runtime).id)


@pytest.fixture
def elsewhere(app_runtime: Runtime) -> ShopWorld:
    return populate(app_runtime, add_shop(app_runtime, "bigcommerce", STORE_HASH, "bc").id, prefix="x")


@pytest.fixture
def admin(client: FlaskClient, app_runtime: Runtime, world: ShopWorld) -> FlaskClient:
    sign_in(client, add_staff(app_runtime, world.shop_id, "1", role=StaffRole.ADMIN, name="Olive Owner"))
    return client


def text(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined]


def rep_row(html: str, name: str) -> str:
    found = re.search(rf'<tr class="state-\w+">\s*<th scope="row"><a [^>]+>{name}</a>.*?</tr>', html, re.S)
    assert found, name
    return found.group(0)


PAGES = ("/merchant/reps", "/merchant/waiting", "/merchant/customers", "/merchant/voice")


def test_only_the_shops_admin_sees_the_merchant_pages(
    client: FlaskClient, app_runtime: Runtime, world: ShopWorld
) -> None:
    for page in PAGES:
        assert client.get(page).status_code == 401
    sign_in_rep(client, app_runtime, "rita@example.com")  # a rep by link is no admin
    for page in PAGES:
        assert client.get(page).status_code == 401
    sign_in(client, add_staff(app_runtime, world.shop_id, "5", name="Sam Staff"))
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 403 and "<h1>" in text(response)  # an error page, not JSON


def test_another_shops_rows_are_not_found(
    admin: FlaskClient, app_runtime: Runtime, world: ShopWorld, elsewhere: ShopWorld
) -> None:
    token = csrf_from(text(admin.get("/merchant/reps")))
    assert admin.get(f"/merchant/customers/{elsewhere.customers['ada']}").status_code == 404
    assert admin.get(f"/merchant/reps/{elsewhere.reps['rita']}").status_code == 404
    other = elsewhere.reps["rita"]
    for action in ("", "/away", "/back", "/leave"):
        assert admin.post(f"/merchant/reps/{other}{action}", data={"csrf_token": token}).status_code == 404
    html = text(admin.get("/merchant/customers"))
    assert "Ada Lovelace" in html and "xAda" not in html
    assert "xrita" not in text(admin.get("/merchant/reps"))
    with app_runtime.session() as db:
        assert db.get_one(Rep, other).state == RepState.ACTIVE


def test_the_roster_shows_books_capacity_and_state(admin: FlaskClient, app_runtime: Runtime, world: ShopWorld) -> None:
    with app_runtime.session() as db:
        db.execute(sa.update(Rep).where(Rep.id == world.reps["rob"]).values(capacity=200, capacity_override=True))
    html = text(admin.get("/merchant/reps"))
    rita = rep_row(html, "Rita Rep")
    assert "3 of 150" in rita and "Active" in rita and "Mon-Fri 09:00-17:00" in rita
    rob = rep_row(html, "Rob Rep")
    assert "1 of 200" in rob and "too large to stay personal" in rob
    assert "America/New_York" in rob


def test_adding_a_rep(admin: FlaskClient, app_runtime: Runtime, world: ShopWorld) -> None:
    token = csrf_from(text(admin.get("/merchant/reps")))
    form = {
        "csrf_token": token,
        "name": "Nina New",
        "email": "Nina@Example.com",
        "time_zone": "europe/berlin",
        "hours": "Mon-Thu 08:00-16:00; Fri 08:00-12:00",
        "capacity": "120",
    }
    added = admin.post("/merchant/reps", data=form)
    assert added.status_code == 303, text(added)
    html = text(admin.get("/merchant/reps"))
    assert "Nina New is on the roster." in html
    nina = rep_row(html, "Nina New")
    assert "0 of 120" in nina and "Mon-Thu 08:00-16:00; Fri 08:00-12:00" in nina
    with app_runtime.session() as db:
        rep = db.scalars(sa.select(Rep).where(Rep.email == "nina@example.com")).one()
        assert (rep.time_zone, rep.capacity, rep.shop_id) == ("Europe/Berlin", 120, world.shop_id)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"name": ""}, "name", "Enter the rep&#39;s name."),
        ({"email": "nina@"}, "email", "Enter an email address like"),
        ({"email": "rita@example.com"}, "email", "rita@example.com is already on the roster."),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "is not a time zone we know"),
        ({"hours": "weekdays"}, "hours", "is not a day"),
        ({"capacity": "0"}, "capacity", "Choose a capacity from 1 to 1000."),
        ({"capacity": "200"}, "capacity", "Above 150 needs the override"),
    ],
)
def test_adding_a_rep_refuses_bad_input_beside_its_field(
    admin: FlaskClient, app_runtime: Runtime, world: ShopWorld, change: dict[str, str], field: str, message: str
) -> None:
    token = csrf_from(text(admin.get("/merchant/reps")))
    form = {
        "csrf_token": token,
        "name": "Nina New",
        "email": "nina@example.com",
        "time_zone": "Europe/Berlin",
        "hours": "Mon-Fri 09:00-17:00",
        "capacity": "150",
        **change,
    }
    refused = admin.post("/merchant/reps", data=form)
    assert refused.status_code == 422
    html = text(refused)
    error = re.search(rf'<p class="error" id="{field}-error" role="alert">([^<]+)</p>', html)
    assert error and message in error.group(1), html
    with app_runtime.session() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Rep).where(Rep.shop_id == world.shop_id)) == 2


def test_a_capacity_above_150_with_the_override_is_kept_and_warned_about(
    admin: FlaskClient, app_runtime: Runtime, world: ShopWorld
) -> None:
    rita = world.reps["rita"]
    page = text(admin.get(f"/merchant/reps/{rita}"))
    assert 'value="Rita Rep"' in page and 'value="Mon-Fri 09:00-17:00"' in page
    form = {
        "csrf_token": csrf_from(page),
        "name": "Rita Rep",
        "email": "rita@example.com",
        "time_zone": "Europe/London",
        "hours": "Mon-Fri 09:00-17:00",
        "capacity": "180",
        "capacity_override": "y",
    }
    saved = admin.post(f"/merchant/reps/{rita}", data=form)
    assert saved.status_code == 303, text(saved)
    page = text(admin.get(f"/merchant/reps/{rita}"))
    assert "Rita Rep&#39;s details saved." in page and "above 150" in page
    lower = admin.post(f"/merchant/reps/{rita}", data={**form, "capacity": "2", "capacity_override": ""})
    assert lower.status_code == 422
    assert "holds 3 customers: capacity cannot go below that" in text(lower)


def test_away_back_and_leave(admin: FlaskClient, app_runtime: Runtime, world: ShopWorld) -> None:
    rita, rob = world.reps["rita"], world.reps["rob"]
    page = text(admin.get(f"/merchant/reps/{rita}"))
    token = csrf_from(page)
    assert f'<option value="{rob}">Rob Rep</option>' in page
    until = (utcnow() + dt.timedelta(days=10)).date()

    past = admin.post(f"/merchant/reps/{rita}/away", data={"csrf_token": token, "until": "2001-01-01", "backup": rob})
    assert past.status_code == 422 and "The away date is in the past." in text(past)
    nobody = admin.post(f"/merchant/reps/{rita}/away", data={"csrf_token": token, "until": until.isoformat()})
    assert nobody.status_code == 422 and "Choose who takes their calls." in text(nobody)

    away = admin.post(
        f"/merchant/reps/{rita}/away", data={"csrf_token": token, "until": until.isoformat(), "backup": rob}
    )
    assert away.status_code == 303, text(away)
    roster = text(admin.get("/merchant/reps"))
    assert f"Away until {until.day} " in rep_row(roster, "Rita Rep") and "Rob Rep takes their calls" in roster
    assert admin.post(f"/merchant/reps/{rita}/back", data={"csrf_token": token}).status_code == 303
    with app_runtime.session() as db:
        assert db.get_one(Rep, rita).state == RepState.ACTIVE

    unconfirmed = admin.post(f"/merchant/reps/{rita}/leave", data={"csrf_token": token})
    assert unconfirmed.status_code == 422 and "Tick the box to confirm" in text(unconfirmed)
    left = admin.post(f"/merchant/reps/{rita}/leave", data={"csrf_token": token, "confirm": "y"})
    assert left.status_code == 303
    with app_runtime.session() as db:
        assert db.get_one(Rep, rita).state == RepState.LEFT
    assert f"hand-over-{rita}" in app_runtime.queue(EVENTS).job_ids
    assert "Left" in rep_row(text(admin.get("/merchant/reps")), "Rita Rep")


def test_roster_forms_need_their_csrf_token(admin: FlaskClient, app_runtime: Runtime, world: ShopWorld) -> None:
    rita = world.reps["rita"]
    assert admin.post("/merchant/reps", data={"name": "X", "email": "x@example.com"}).status_code == 400
    assert admin.post(f"/merchant/reps/{rita}/leave", data={"confirm": "y"}).status_code == 400
    with app_runtime.session() as db:
        assert db.get_one(Rep, rita).state == RepState.ACTIVE


def test_the_pool_counts_who_waits_and_says_when_books_are_full(
    admin: FlaskClient, app_runtime: Runtime, world: ShopWorld
) -> None:
    assert "Nobody is waiting" in text(admin.get("/merchant/waiting"))
    with app_runtime.session() as db:
        db.execute(sa.update(Rep).values(capacity=Rep.book_size))
    since = utcnow() - dt.timedelta(days=2)
    for first, segment in (("Wanda", "new"), ("Vera", "vip")):
        cid = new_customer(app_runtime, world.shop_id, first, "Waiting", rep_id=None, segment=segment)
        with app_runtime.session() as db:
            db.execute(sa.update(Customer).where(Customer.id == cid).values(pool_since=since))
    html = text(admin.get("/merchant/waiting"))
    assert "<strong>2</strong> customers waiting" in html and "Books are full." in html
    assert re.findall(r'<th scope="row"><a [^>]+>([^<]+)</a>', html) == ["Vera Waiting", "Wanda Waiting"]
    roster = text(admin.get("/merchant/reps"))
    assert "Books are full." in roster and "2 customers are waiting for a rep." in roster


def test_every_customer_with_search_and_filters(admin: FlaskClient, app_runtime: Runtime, world: ShopWorld) -> None:
    def names(**query: str) -> list[str]:
        html = text(admin.get("/merchant/customers", query_string=query))
        return re.findall(r'<th scope="row"><a [^>]+>([^<]+)</a>', html)

    assert names() == ["Ada Lovelace", "Bob Brooklyn", "Kim Tokyo", "Lou Angeles"]
    assert names(rep=str(world.reps["rob"])) == ["Bob Brooklyn"]
    assert names(segment="vip") == ["Ada Lovelace"]
    assert names(q="brooklyn") == ["Bob Brooklyn"]
    assert names(segment="new", rep=str(world.reps["rita"])) == ["Kim Tokyo"]
    assert names(rep="none") == []
    html = text(admin.get("/merchant/customers"))
    assert "Rita Rep" in html and "Rob Rep" in html  # the rep column
    page = text(admin.get(f"/merchant/customers/{world.customers['bob']}"))
    assert "<h1>Bob Brooklyn</h1>" in page and "New York, US" in page and "Rob Rep" in page


def test_the_merchant_customer_list_pages_keeping_its_filters(
    admin: FlaskClient, app_runtime: Runtime, world: ShopWorld
) -> None:
    for i in range(55):
        new_customer(app_runtime, world.shop_id, f"Zed{i:02d}", "Many", rep_id=None, segment="prospect")
    first = text(admin.get("/merchant/customers", query_string={"segment": "prospect"}))
    assert "Page 1 of 2 (1\u201350 of 55 customers)" in first and "Zed49 Many" in first and "Zed50" not in first
    following = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert following and "segment=prospect" in following.group(1) and "page=2" in following.group(1)
    second = text(admin.get(following.group(1).replace("&amp;", "&")))
    assert "Zed54 Many" in second and "Page 2 of 2" in second and "Ada Lovelace" not in second
    beyond = text(admin.get("/merchant/customers", query_string={"segment": "prospect", "page": "9"}))
    assert "Page 2 of 2" in beyond


def test_voice_of_the_customer_rolls_calls_up_per_product_and_per_rep(
    admin: FlaskClient, app_runtime: Runtime, world: ShopWorld
) -> None:
    scores = {"ada": ("reached", 10), "kim": ("reached", 5), "lou": ("no_answer", None), "bob": ("reached", 9)}
    with app_runtime.session() as db:
        for key, (outcome, score) in scores.items():
            rep = world.reps["rob" if key == "bob" else "rita"]
            record_outcome(
                db,
                world.checkins[key],
                rep,
                outcome,
                recommend=score,
                improve="Softer wool" if key == "kim" else None,
                improve_product_id="p-scarf" if key == "kim" else None,
            )
    html = text(admin.get("/merchant/voice"))
    overall = re.search(r'<section class="panel summary".*?</section>', html, re.S)
    assert overall
    # 3 scores: promoters 10 and 9, detractor 5 -> (2 - 1) / 3 = +33; reached 3 of 4 tasks attempted.
    assert "<dd>+33</dd>" in overall.group(0) and "75 % (3 of 4)" in overall.group(0)
    rita = re.search(r'<th scope="row">Rita Rep</th>(.*?)</tr>', html, re.S)
    assert rita and ">+0<" in rita.group(1) and "67 % (2 of 3)" in rita.group(1)
    rob = re.search(r'<th scope="row">Rob Rep</th>(.*?)</tr>', html, re.S)
    assert rob and ">+100<" in rob.group(1) and "100 % (1 of 1)" in rob.group(1)
    scarf = re.search(r'<th scope="row">Wool scarf</th>(.*?)</tr>', html, re.S)
    assert scarf and ">+33<" in scarf.group(1) and "75 % (3 of 4)" in scarf.group(1)
    assert "Softer wool" in html and "about Wool scarf" in html and "Kim Tokyo" in html

    # A period without those calls.
    old = text(admin.get("/merchant/voice", query_string={"from": "2020-01-01", "to": "2020-01-31"}))
    assert "No calls in this period." in old and "Softer wool" not in old


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"from": "yesterday"}, "from", "Enter a date like 2027-01-31."),
        ({"from": "2027-02-01", "to": "2027-01-01"}, "to", "The end of the period is before its start."),
        ({"from": "2020-01-01", "to": "2027-01-01"}, "from", "at most 366 days"),
    ],
)
def test_voice_refuses_a_period_it_cannot_read(
    admin: FlaskClient, world: ShopWorld, query: dict[str, str], field: str, message: str
) -> None:
    response = admin.get("/merchant/voice", query_string=query)
    assert response.status_code == 422
    html = text(response)
    assert f'id="period-{field}-error"' in html and message in html


def test_the_merchant_sees_every_call_on_the_customer_page(
    admin: FlaskClient, app_runtime: Runtime, world: ShopWorld
) -> None:
    order = new_order(app_runtime, world.shop_id, world.customers["lou"], [Bought("Boots", 1, "p-boots")])
    new_checkin(app_runtime, world.shop_id, world.customers["lou"], world.reps["rita"], [order], status="done")
    with app_runtime.session() as db:
        record_outcome(db, world.checkins["lou"], world.reps["rita"], "reached", notes="Wants boots in brown")
        assert db.scalar(sa.select(sa.func.count()).select_from(CheckInAttempt)) == 1
    html = text(admin.get(f"/merchant/customers/{world.customers['lou']}"))
    assert "Wants boots in brown" in html and "Rita Rep" in html and "Boots" in html
