"""Merchant-editable email templates, rendered in Jinja2's immutable sandbox.

The merchant edits a subject and a body (plain text with ``{{ customer.first_name }}``-style fields). Both
are rendered in an :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`, over plain dicts, lists and
strings only: a template cannot reach Python objects, attributes that start with ``_``, or methods that
change anything (``{{ ''.__class__.__mro__ }}`` raises ``SecurityError``). The body is rendered twice: with
autoescape for the HTML part (so a customer named ``<b>Zoë</b>`` shows as text, never as markup) and
without for the plain-text part (where it stays ``<b>Zoë</b>``). Our own layout around it (contact, links,
postal address) is ours, not the merchant's.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

__all__ = ["Rendered", "TemplateProblem", "check", "render_parts"]

MAX_TEMPLATE = 10_000

_HTML = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
_TEXT = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


class TemplateProblem(ValueError):
    """A template that does not parse, uses a field that does not exist, or reaches for what the sandbox
    forbids; the text says which, in words a merchant can act on."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text_body: str  # the merchant's body, as text
    html_body: Markup  # the merchant's body, escaped, in paragraphs


@functools.lru_cache(maxsize=256)
def compiled(html: bool, source: str) -> Template:
    """The template compiled once (compiling costs far more than rendering); a template is immutable."""
    return (_HTML if html else _TEXT).from_string(source)


def _render(env: ImmutableSandboxedEnvironment, source: str, context: Mapping[str, Any]) -> str:
    if len(source) > MAX_TEMPLATE:
        raise TemplateProblem(f"A template may be at most {MAX_TEMPLATE} characters long.")
    try:
        return compiled(env is _HTML, source).render(**context)
    except TemplateError as exc:
        name = type(exc).__name__
        if name == "SecurityError":
            raise TemplateProblem("The template uses something that is not allowed in emails.") from None
        if name == "UndefinedError":
            raise TemplateProblem(f"The template uses a field that does not exist ({exc.message}).") from None
        raise TemplateProblem(f"The template could not be read: {exc.message or name}.") from None


def _paragraphs(html: str) -> Markup:
    """Blank lines separate paragraphs, single line breaks stay: the text is escaped already."""
    blocks = [block.strip() for block in html.replace("\r\n", "\n").split("\n\n") if block.strip()]
    return Markup("".join(f"<p>{Markup(block).replace(chr(10), Markup('<br>'))}</p>" for block in blocks))  # noqa: S704


def render_parts(subject: str, body: str, context: Mapping[str, Any]) -> Rendered:
    """Subject (one line), text body and HTML body of a merchant template; raises TemplateProblem."""
    subject_text = " ".join(_render(_TEXT, subject, context).split())
    return Rendered(
        subject=subject_text[:900],
        text_body=_render(_TEXT, body, context).strip() + "\n",
        html_body=_paragraphs(_render(_HTML, body, context)),
    )


def check(subject: str, body: str, sample: Mapping[str, Any]) -> Rendered:
    """Render against a sample to refuse a bad template when it is saved, not when it is sent."""
    rendered = render_parts(subject, body, sample)
    if not rendered.subject:
        raise TemplateProblem("The subject is empty.")
    return rendered
