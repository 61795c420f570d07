"""The Email settings section: save (with the template checked), preview for a sample customer, send me a
test; a template reaching outside the sandbox is refused."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient

from integration.core.runtime import Runtime
from integration.messaging.models import EmailSettings, OutboxMessage
from tests.staff_fixtures import People, csrf_token, sign_in


def post_email(client: FlaskClient, action: str, **fields: str) -> Any:
    data = {
        "section": "email",
        "action": action,
        "csrf_token": csrf_token(client),
        "thankyou_enabled": "y",
        "thankyou_delay_minutes": "45",
        "consent_required_in": "eu, gb,ca",
        "code_percent": "15",
        "code_days": "30",
        "thankyou_subject": "Thanks {{ customer.first_name }}",
        "thankyou_body": "Hello {{ customer.first_name }},\n\n{{ rep.first_name }} here.",
        **fields,
    }
    return client.post("/settings", data=data)


def saved(runtime: Runtime) -> list[EmailSettings]:
    with runtime.session() as session:
        return list(session.scalars(sa.select(EmailSettings)))


def test_the_admin_saves_previews_and_sends_a_test(client: FlaskClient, app_runtime: Runtime, people: People) -> None:
    sign_in(client, people.admin)
    page = client.get("/settings").get_data(as_text=True)
    assert "Send me a test" in page and "Thank you for your order, {{ customer.first_name }}" in page

    preview = post_email(client, "preview")
    body = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Subject:</strong> Thanks Ann" in body and "Hello Ann," in body
    assert saved(app_runtime) == []  # a preview saves nothing

    response = post_email(client, "save")
    assert response.status_code == 303
    [mail] = saved(app_runtime)
    assert (mail.thankyou_delay_minutes, mail.consent_required_in, mail.thankyou_subject) == (
        45,
        "EU,GB,CA",
        "Thanks {{ customer.first_name }}",
    )

    test = post_email(client, "test", thankyou_subject="Try {{ shop.name }}")
    assert test.status_code == 303
    with app_runtime.session() as session:
        [row] = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "thank_you_test")).all()
    assert row.recipient == "olive@example.com" and row.subject.startswith("[Test] Try ")
    assert saved(app_runtime)[0].thankyou_subject == "Thanks {{ customer.first_name }}"  # a test saves nothing


def test_a_template_reaching_outside_the_sandbox_is_refused(
    client: FlaskClient, app_runtime: Runtime, people: People
) -> None:
    sign_in(client, people.admin)
    for body in ("{{ ''.__class__.__mro__ }}", "{{ customer.__class__ }}", "{{ nothing.here }}", "{% if %}"):
        response = post_email(client, "save", thankyou_body=body)
        assert response.status_code == 422
        assert 'role="alert"' in response.get_data(as_text=True)
    assert saved(app_runtime) == []


def test_only_the_admin_may_change_it(client: FlaskClient, people: People) -> None:
    sign_in(client, people.staff)
    assert client.post("/settings", data={"section": "email"}).status_code in (400, 403)


def test_thank_you_codes_are_turned_on_here_and_a_later_save_keeps_them(
    client: FlaskClient, app_runtime: Runtime, people: People
) -> None:
    """Regression: the section had no code fields and saved codes off (15 %, 30 days) on every save."""
    sign_in(client, people.admin)
    assert post_email(client, "save", codes_enabled="y", code_percent="20", code_days="14").status_code == 303
    [mail] = saved(app_runtime)
    assert (mail.codes_enabled, mail.code_percent, mail.code_days) == (True, 20, 14)
    page = client.get("/settings").get_data(as_text=True)
    assert 'name="code_percent"' in page and 'value="20"' in page

    assert (
        post_email(
            client, "save", codes_enabled="y", code_percent="20", code_days="14", thankyou_delay_minutes="90"
        ).status_code
        == 303
    )
    [mail] = saved(app_runtime)
    assert (mail.codes_enabled, mail.code_percent, mail.thankyou_delay_minutes) == (True, 20, 90)

    bad = post_email(client, "save", codes_enabled="y", code_percent="150", code_days="0")
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Between 1 and 100." in body and "Between 1 and 365 days." in body
    assert saved(app_runtime)[0].code_percent == 20
