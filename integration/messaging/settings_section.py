"""The settings page's Email section: the thank-you on or off, its delay, where consent is required, and
its subject and body (Jinja2 fields like ``{{ customer.first_name }}``, rendered in the sandbox), with a
preview for a sample customer and "send me a test" to the signed-in admin's own address.

A template is checked against a sample when it is saved, previewed or tested: one that does not parse,
names a field that does not exist, or reaches for what the sandbox forbids is refused with a message.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask import current_app, request
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp

from integration import runtime_of
from integration.customers.models import Customer, Order
from integration.messaging.brand import DEFAULT_ACCENT, make_brand
from integration.messaging.models import EmailSettings
from integration.messaging.outbox import Draft, enqueue_sends, queue_email
from integration.messaging.templates import TemplateProblem, check
from integration.messaging.thankyou import DEFAULT_BODY, DEFAULT_SUBJECT, context, render, settings_for
from integration.reps.models import Rep
from integration.web.settings import Outcome, Section, SectionRequest

FIELDS_HELP = (
    "Fields: {{ customer.first_name }}, {{ customer.name }}, {{ order.name }}, {{ order.products }}, "
    "{{ order.total }}, {{ rep.first_name }}, {{ rep.name }}, {{ shop.name }}. A blank line starts a paragraph."
)


class EmailForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF and WTForms ship no types
    section = HiddenField(default="email")
    thankyou_enabled = BooleanField("Send a thank-you after each paid order")
    thankyou_delay_minutes = IntegerField(
        "Minutes after payment",
        validators=[InputRequired(), NumberRange(min=0, max=7 * 24 * 60, message="Between 0 and 10080 minutes.")],
    )
    consent_required_in = StringField(
        "Ask for email consent first in",
        validators=[
            Length(max=255),
            Regexp(r"^\s*([A-Za-z]{2}\s*(,\s*[A-Za-z]{2}\s*)*)?$", message="Two-letter codes separated by commas."),
        ],
        description="Country codes, EU for the European Union; elsewhere only an unsubscribe stops the email.",
    )
    codes_enabled = BooleanField("Include a thank-you code: single use, for this customer only")
    code_percent = IntegerField(
        "Code discount (%)", validators=[InputRequired(), NumberRange(min=1, max=100, message="Between 1 and 100.")]
    )
    code_days = IntegerField(
        "Code valid for (days)",
        validators=[InputRequired(), NumberRange(min=1, max=365, message="Between 1 and 365 days.")],
    )
    brand_colour = StringField(
        "Shop colour",
        validators=[
            Optional(),
            Regexp(r"^#[0-9a-fA-F]{6}$", message="A colour like #1f5fbf: # and six hexadecimal digits."),
        ],
        description=(
            "Used for the header, buttons and links on your customers' preference pages and in your emails. "
            "Text on it is white or black, whichever is readable; a light colour is darkened for links. "
            f"Leave empty for the default ({DEFAULT_ACCENT})."
        ),
    )
    thankyou_subject = StringField("Subject", validators=[InputRequired(), Length(max=500)])
    thankyou_body = TextAreaField("Message", validators=[InputRequired(), Length(max=10_000)], description=FIELDS_HELP)


def _sample(req: SectionRequest) -> dict[str, Any]:
    """The shop's latest customer with an order (else a made-up one), for previews and tests."""
    found = req.db.execute(
        sa.select(Customer, Order)
        .join(Order, Order.customer_id == Customer.id)
        .where(Customer.shop_id == req.shop.id, Order.test.is_(False))
        .order_by(Order.id.desc())
        .limit(1)
    ).first()
    rep = req.db.scalar(sa.select(Rep).where(Rep.shop_id == req.shop.id).order_by(Rep.id).limit(1))
    if found is None:
        customer = Customer(shop_id=req.shop.id, first_name="Ann", last_name="Example")
        return context(customer, None, ["Teapot"], rep, req.shop)
    customer, order = found
    rep = req.db.get(Rep, customer.rep_id) if customer.rep_id is not None else rep
    return context(customer, order, [line.title for line in order.lines], rep, req.shop)


def _form(mail: EmailSettings, *, posted: bool) -> EmailForm:
    if posted:
        return EmailForm()
    return EmailForm(
        formdata=None,
        data={
            "thankyou_enabled": mail.thankyou_enabled,
            "thankyou_delay_minutes": mail.thankyou_delay_minutes,
            "consent_required_in": mail.consent_required_in,
            "codes_enabled": mail.codes_enabled,
            "code_percent": mail.code_percent,
            "code_days": mail.code_days,
            "brand_colour": mail.brand_colour or "",
            "thankyou_subject": mail.thankyou_subject or DEFAULT_SUBJECT,
            "thankyou_body": mail.thankyou_body or DEFAULT_BODY,
        },
    )


class EmailSection(Section):
    key = "email"
    title = "Email"
    template = "settings/email.html"

    def view(self, req: SectionRequest) -> dict[str, Any]:
        mail = settings_for(req.db, req.shop.id)
        return {"form": _form(mail, posted=False), "preview": None, "brand": make_brand(mail.brand_colour)}

    def submit(self, req: SectionRequest) -> Outcome:
        form = _form(settings_for(req.db, req.shop.id), posted=True)
        if not form.validate():
            return Outcome.again(form=form)
        colour = (form.brand_colour.data or "").strip().lower() or None
        brand = make_brand(colour)
        sample = _sample(req)
        try:
            check(form.thankyou_subject.data, form.thankyou_body.data, sample)
        except TemplateProblem as exc:
            form.thankyou_body.errors.append(str(exc))
            return Outcome.again(form=form, brand=brand)
        mail = EmailSettings(
            shop_id=req.shop.id,
            thankyou_enabled=bool(form.thankyou_enabled.data),
            thankyou_delay_minutes=int(form.thankyou_delay_minutes.data),
            consent_required_in=",".join(
                part.strip().upper() for part in (form.consent_required_in.data or "").split(",") if part.strip()
            ),
            thankyou_subject=form.thankyou_subject.data,
            thankyou_body=form.thankyou_body.data,
            # Saved from the form: these were fixed values, so any save turned codes off.
            codes_enabled=bool(form.codes_enabled.data),
            code_percent=int(form.code_percent.data),
            code_days=int(form.code_days.data),
            brand_colour=colour,
        )
        settings = runtime_of(current_app).settings
        example = settings.public_url.rstrip("/")
        rendered = render(
            mail,
            sample,
            preferences_url=f"{example}/p/EXAMPLE",
            unsubscribe_url=f"{example}/u/EXAMPLE",
            postal=req.shop.postal_address or settings.shop_postal_address or None,
        )
        action = request.form.get("action", "save")
        if action == "preview":
            return Outcome.again(status=200, form=form, preview=rendered, brand=brand)
        if action == "test":
            if not req.me.email:
                form.thankyou_body.errors.append("We have no email address for you to send the test to.")
                return Outcome.again(form=form, brand=brand)
            draft = Draft(
                shop_id=req.shop.id,
                dedupe_key=f"test-{uuid.uuid4().hex}",
                template="thank_you_test",
                recipient=req.me.email,
                subject=f"[Test] {rendered.subject}",
                text=rendered.text_body,
                html=str(rendered.html_body),
                sender_name=f"{sample['rep']['first_name']} at {sample['shop']['name']}",
                sender_address=req.shop.sender_email,
            )
            outbox_id = queue_email(req.db, draft, settings)
            runtime = runtime_of(current_app)

            def after_commit(_session: Any) -> None:
                if outbox_id is not None:
                    enqueue_sends(runtime, [outbox_id])

            sa.event.listen(req.db, "after_commit", after_commit, once=True)
            # Saved, not again: the outbox row must commit (the template itself is not saved by a test).
            return Outcome.saved(f"A test email is on its way to {req.me.email}.")
        req.db.merge(mail)
        return Outcome.saved("Email settings saved.")


EMAIL_SECTION = EmailSection()
