"""Sending outbox rows to a real SMTP server (aiosmtpd on loopback): headers and parts, consent re-checked
at send time, retries that never send twice, permanent refusals suppressing the address."""

from __future__ import annotations

import datetime as dt
import json
from email.message import EmailMessage

import pytest
import sqlalchemy as sa
from rq import SimpleWorker
from rq.job import Job, JobStatus

from integration.core.db import utcnow
from integration.core.queues import MAIL
from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.messaging.compose import MARKETING
from integration.messaging.models import OutboxMessage, Suppression
from integration.messaging.outbox import Draft, enqueue_sends, queue_email, relay, send_job_id
from integration.messaging.sending import SendLater, send_outbox, suppress
from tests.helpers import AppFactory, RuntimeFactory, add_customer, add_shop, invoke, job_environment
from tests.messaging.smtp_server import SmtpServer

SHOP_KW = {"name": "Fern & Co", "sender_email": "hello@fern.example", "sender_name": "Fern & Co"}


@pytest.fixture
def mail_runtime(make_runtime: RuntimeFactory, smtp_server: SmtpServer) -> Runtime:
    return make_runtime(smtp_url=smtp_server.url, mail_from="Fallback <fallback@app.example>")


def marketing_email(runtime: Runtime, *, country: str = "US", consent: str | None = "subscribed", key: str = "k1"):
    shop = add_shop(runtime, **SHOP_KW)
    customer_id = add_customer(
        runtime, shop.id, "c1", email="zoe@example.com", first_name="Zoë", country_code=country, email_consent=consent
    )
    draft = Draft(
        shop_id=shop.id,
        dedupe_key=key,
        template="thank_you",
        recipient="zoe@example.com",
        subject="Thank you, Zoë",
        text="Hello Zoë,\nthank you.\n",
        html="<html><head><style>p { color: #123456; }</style></head><body><p>Hello Zoë</p></body></html>",
        customer_id=customer_id,
        category=MARKETING,
        sender_name="Dana at Fern & Co",
        sender_address="hello@fern.example",
        reply_to="dana@fern.example",
        unsubscribe_url="https://app.example/u/TOKEN",
    )
    with runtime.session() as session:
        outbox_id = queue_email(session, draft, runtime.settings)
    assert outbox_id is not None
    return shop, customer_id, outbox_id


def sender(message: EmailMessage) -> tuple[str, str]:
    [address] = message["From"].addresses
    return address.display_name, address.addr_spec


def row(runtime: Runtime, outbox_id: int) -> OutboxMessage:
    with runtime.session() as session:
        found = session.get_one(OutboxMessage, outbox_id)
        session.expunge(found)
        return found


def test_a_marketing_email_arrives_with_both_parts_and_the_one_click_headers(
    mail_runtime: Runtime, smtp_server: SmtpServer
) -> None:
    _, _, outbox_id = marketing_email(mail_runtime)
    stored = row(mail_runtime, outbox_id)
    assert stored.message_id and stored.message_id.endswith("@fern.example>")  # made before sending

    assert send_outbox(mail_runtime, outbox_id, retries_left=3) == "sent"

    [message] = smtp_server.messages
    assert smtp_server.recorder.envelopes == [("hello@fern.example", ["zoe@example.com"])]
    assert sender(message) == ("Dana at Fern & Co", "hello@fern.example")
    assert message["Reply-To"] == "dana@fern.example"
    assert message["To"] == "zoe@example.com"
    assert message["Subject"] == "Thank you, Zoë"
    assert message["Message-ID"] == stored.message_id
    assert message["List-Unsubscribe"] == "<https://app.example/u/TOKEN>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content().replace("\r\n", "\n") == "Hello Zoë,\nthank you.\n"
    # css-inline moved the style sheet onto the element (mail clients drop <style>)
    assert 'style="color: #123456;"' in html.get_content() and "<style>" not in html.get_content()
    after = row(mail_runtime, outbox_id)
    assert (after.status, after.attempts, after.error) == ("sent", 1, None)
    assert after.sent_at is not None
    # sending again changes nothing
    assert send_outbox(mail_runtime, outbox_id, retries_left=3) == "sent"
    assert len(smtp_server.messages) == 1


def test_transactional_email_has_no_unsubscribe_headers_and_falls_back_to_the_shop_sender(
    mail_runtime: Runtime, smtp_server: SmtpServer
) -> None:
    shop = add_shop(mail_runtime, **SHOP_KW)
    with mail_runtime.session() as session:
        outbox_id = queue_email(
            session, Draft(shop.id, "digest-1", "rep_digest", "dana@fern.example", "Your calls", "2 calls", "<p>2</p>")
        )
    assert outbox_id is not None
    assert send_outbox(mail_runtime, outbox_id, retries_left=3) == "sent"
    [message] = smtp_server.messages
    assert sender(message) == ("Fern & Co", "hello@fern.example")
    assert "List-Unsubscribe" not in message and "List-Unsubscribe-Post" not in message
    assert row(mail_runtime, outbox_id).message_id == message["Message-ID"]  # made at the first attempt


def test_an_opt_out_between_queueing_and_sending_wins(mail_runtime: Runtime, smtp_server: SmtpServer) -> None:
    _, customer_id, outbox_id = marketing_email(mail_runtime)
    with mail_runtime.session() as session:
        session.execute(sa.update(Customer).where(Customer.id == customer_id).values(email_consent="unsubscribed"))

    assert send_outbox(mail_runtime, outbox_id, retries_left=3) == "skipped"
    assert smtp_server.messages == []
    assert (row(mail_runtime, outbox_id).status, row(mail_runtime, outbox_id).error) == (
        "skipped",
        "unsubscribed from email",
    )


@pytest.mark.parametrize(
    ("country", "consent", "expected"),
    [("DE", None, "skipped"), ("GB", "not_subscribed", "skipped"), ("CA", "subscribed", "sent"), ("US", None, "sent")],
)
def test_consent_is_required_for_eu_uk_and_canadian_addresses(
    mail_runtime: Runtime, smtp_server: SmtpServer, country: str, consent: str | None, expected: str
) -> None:
    _, _, outbox_id = marketing_email(mail_runtime, country=country, consent=consent)
    assert send_outbox(mail_runtime, outbox_id, retries_left=3) == expected
    assert len(smtp_server.messages) == (1 if expected == "sent" else 0)


def test_a_suppressed_address_gets_nothing(mail_runtime: Runtime, smtp_server: SmtpServer) -> None:
    shop, _, outbox_id = marketing_email(mail_runtime)
    with mail_runtime.session() as session:
        suppress(session, shop.id, "ZOE@example.com", "complaint")
    assert send_outbox(mail_runtime, outbox_id, retries_left=3) == "skipped"
    assert smtp_server.messages == []


def test_a_connection_dropped_after_data_is_never_resent(mail_runtime: Runtime, smtp_server: SmtpServer) -> None:
    """The server keeps the message and hangs up before its 250: it may well have arrived, so no retry sends it."""
    _, _, outbox_id = marketing_email(mail_runtime)
    smtp_server.recorder.faults.append("data:drop")

    assert send_outbox(mail_runtime, outbox_id, retries_left=3) == "unconfirmed"
    assert len(smtp_server.messages) == 1
    stored = row(mail_runtime, outbox_id)
    assert stored.status == "unconfirmed" and "connection lost after the message was sent" in (stored.error or "")
    assert "zoe@example.com" not in (stored.error or "")

    # A retry of the job (RQ's, a duplicate, the relay) sends nothing more.
    assert send_outbox(mail_runtime, outbox_id, retries_left=2) == "unconfirmed"
    assert relay(mail_runtime) == 0
    assert len(smtp_server.messages) == 1


def test_a_connection_dropped_before_the_content_is_retried_by_rq_and_sent_once(
    mail_runtime: Runtime, smtp_server: SmtpServer
) -> None:
    _, _, outbox_id = marketing_email(mail_runtime)
    smtp_server.recorder.faults.append("rcpt:drop")
    enqueue_sends(mail_runtime, [outbox_id])
    with job_environment(mail_runtime.settings):
        SimpleWorker([mail_runtime.queue(MAIL)], connection=mail_runtime.redis).work(
            burst=True, with_scheduler=False, logging_level="WARNING"
        )
    # The first attempt failed before any content: the row is queued again and RQ holds the retry.
    stored = row(mail_runtime, outbox_id)
    assert (stored.status, stored.attempts) == ("queued", 1)
    assert "SMTPServerDisconnected" in (stored.error or "") or "refused" in (stored.error or "")
    job = Job.fetch(send_job_id(outbox_id), connection=mail_runtime.redis)
    assert job.get_status() == JobStatus.SCHEDULED
    assert relay(mail_runtime) == 0  # the relay leaves a row alone while RQ holds its retry
    assert smtp_server.messages == []

    # The retry (run now rather than after its backoff) sends it, once.
    mail_runtime.queue(MAIL).enqueue_job(job)
    with job_environment(mail_runtime.settings):
        SimpleWorker([mail_runtime.queue(MAIL)], connection=mail_runtime.redis).work(
            burst=True, with_scheduler=False, logging_level="WARNING"
        )
    assert len(smtp_server.messages) == 1
    stored = row(mail_runtime, outbox_id)
    assert (stored.status, stored.attempts) == ("sent", 2)


def test_a_4xx_is_retried_and_the_last_attempt_marks_it_failed(mail_runtime: Runtime, smtp_server: SmtpServer) -> None:
    _, _, outbox_id = marketing_email(mail_runtime)
    smtp_server.recorder.faults.extend(["rcpt:451", "rcpt:451"])
    with pytest.raises(SendLater):
        send_outbox(mail_runtime, outbox_id, retries_left=1)
    assert row(mail_runtime, outbox_id).status == "queued"
    assert send_outbox(mail_runtime, outbox_id, retries_left=None) == "failed"
    stored = row(mail_runtime, outbox_id)
    assert stored.attempts == 2 and (stored.error or "").startswith("out of retries: recipient refused: 451")


def test_a_permanent_refusal_of_the_recipient_suppresses_the_address(
    mail_runtime: Runtime, smtp_server: SmtpServer
) -> None:
    shop, _, outbox_id = marketing_email(mail_runtime)
    smtp_server.recorder.faults.append("rcpt:550")
    assert send_outbox(mail_runtime, outbox_id, retries_left=3) == "failed"
    stored = row(mail_runtime, outbox_id)
    assert stored.error is not None and "550" in stored.error and "zoe@example.com" not in stored.error
    with mail_runtime.session() as session:
        [suppression] = session.scalars(sa.select(Suppression)).all()
    assert (suppression.shop_id, suppression.address, suppression.outbox_id) == (shop.id, "zoe@example.com", outbox_id)
    assert "550 5.1.1" in suppression.reason
    # the next email to that address is not even attempted
    with mail_runtime.session() as session:
        again = queue_email(session, Draft(shop.id, "k2", "x", "zoe@example.com", "s", "t"))
    assert again is not None
    assert send_outbox(mail_runtime, again, retries_left=3) == "skipped"
    assert smtp_server.messages == []


def test_without_smtp_url_mail_stays_in_the_outbox(runtime: Runtime) -> None:
    assert runtime.settings.smtp_url == ""
    _, _, outbox_id = marketing_email(runtime)
    assert relay(runtime) == 0
    assert enqueue_sends(runtime, [outbox_id]) == 0
    assert send_outbox(runtime, outbox_id, retries_left=3) == "held"
    assert row(runtime, outbox_id).status == "queued"


def test_the_relay_sends_what_is_due_and_waits_for_what_is_not(mail_runtime: Runtime, smtp_server: SmtpServer) -> None:
    shop = add_shop(mail_runtime, **SHOP_KW)
    later = utcnow() + dt.timedelta(hours=1)
    with mail_runtime.session() as session:
        now_id = queue_email(session, Draft(shop.id, "a", "rep_digest", "a@fern.example", "A", "a"))
        later_id = queue_email(session, Draft(shop.id, "b", "rep_digest", "b@fern.example", "B", "b", send_after=later))
        assert queue_email(session, Draft(shop.id, "a", "rep_digest", "a@fern.example", "A", "a")) is None  # dedupe
    assert relay(mail_runtime) == 1
    assert relay(mail_runtime) == 0  # its job is alive: not enqueued twice
    with job_environment(mail_runtime.settings):
        SimpleWorker([mail_runtime.queue(MAIL)], connection=mail_runtime.redis).work(
            burst=True, with_scheduler=False, logging_level="WARNING"
        )
    assert [m["To"] for m in smtp_server.messages] == ["a@fern.example"]
    assert row(mail_runtime, now_id or 0).status == "sent"
    assert row(mail_runtime, later_id or 0).status == "queued"
    assert relay(mail_runtime, now=later + dt.timedelta(seconds=1)) == 1


def test_outbox_cli_lists_and_shows(make_app, runtime: Runtime) -> None:
    app = make_app()
    _, _, outbox_id = marketing_email(runtime)
    listed = invoke(app, "outbox", "list", "--json")
    assert listed.exit_code == 0, listed.output
    [entry] = json.loads(listed.output)
    assert (entry["id"], entry["status"], entry["template"], entry["recipient"]) == (
        outbox_id,
        "queued",
        "thank_you",
        "zoe@example.com",
    )
    shown = invoke(app, "outbox", "show", str(outbox_id))
    assert shown.exit_code == 0 and "Hello Zoë" in shown.output and "List-Unsubscribe" not in shown.output
    assert "unsubscribe_url: https://app.example/u/TOKEN" in shown.output
    assert invoke(app, "outbox", "show", "999").exit_code == 1
    assert "email not found" in invoke(app, "outbox", "show", "999").output


def test_emails_are_counted_by_result_sent_and_suppressed(
    make_app: AppFactory, mail_runtime: Runtime, smtp_server: SmtpServer
) -> None:
    make_app()
    shop, _, sent = marketing_email(mail_runtime)
    assert send_outbox(mail_runtime, sent, retries_left=3) == "sent"
    with mail_runtime.session() as session:
        refused = queue_email(session, Draft(shop.id, "k2", "x", "zoe@example.com", "s", "t"))
    assert refused is not None
    smtp_server.recorder.faults.append("rcpt:550")
    assert send_outbox(mail_runtime, refused, retries_left=3) == "failed"  # the row; the address suppressed
    assert counted_emails() == {"sent": 1.0, "suppressed": 1.0}


def counted_emails() -> dict[str, float]:
    from tests.ops.test_telemetry import counted

    return counted("pc_emails")
