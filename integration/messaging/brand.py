"""A shop's brand colour on the customer's pages and in its emails, kept readable.

The merchant picks one colour (``#rrggbb``, Email settings). It is the accent: the header band, buttons,
the rep's initial, links and the focus ring. WCAG 2.x asks for a contrast of at least 4.5:1 for text, so:

* text *on* the accent (the band's shop name, a button's words) is white when white reaches 4.5:1 on it,
  else near-black, else black (black always does when white does not: white and black contrasts multiply
  to 21, so the lesser of the two is at most 4.58 where they meet);
* text *in* the accent on the page (links) must reach 4.5:1 against the page itself. A light brand colour
  (a pale yellow, a mint) would not, so link text uses the colour darkened, keeping its hue, until it does;
  the focus ring uses that darker colour too, so it stands out on white (WCAG asks 3:1 for a focus ring).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.messaging.models import EmailSettings

__all__ = ["DEFAULT_ACCENT", "HEX_COLOUR", "Brand", "brand_for", "contrast", "make_brand"]

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_ACCENT = "#1f5fbf"  # the app's own blue, for shops that chose none
WHITE = "#ffffff"
NEAR_BLACK = "#111111"
BLACK = "#000000"
# The darkest background links sit on: the customer pages' grey (app.css ``body``); white panels are lighter.
PAGE_BACKGROUND = "#f6f6f7"
MIN_TEXT_CONTRAST = 4.5


def _channels(colour: str) -> tuple[int, int, int]:
    if not HEX_COLOUR.fullmatch(colour):
        raise ValueError("a colour is #rrggbb")
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """WCAG relative luminance, 0 (black) to 1 (white)."""
    r, g, b = (_linear(c) for c in _channels(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours, 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _scaled(colour: str, factor: float) -> str:
    return "#" + "".join(f"{round(c * factor):02x}" for c in _channels(colour))


def readable_on(background: str, colour: str) -> str:
    """``colour`` darkened just enough (same hue) to reach 4.5:1 on ``background``."""
    if contrast(colour, background) >= MIN_TEXT_CONTRAST:
        return colour
    # Scaling the channels towards black keeps the hue; 1 % steps reach black, which always passes.
    for step in range(99, -1, -1):
        darker = _scaled(colour, step / 100)
        if contrast(darker, background) >= MIN_TEXT_CONTRAST:
            return darker
    return BLACK


def text_on(accent: str) -> str:
    for candidate in (WHITE, NEAR_BLACK, BLACK):
        if contrast(candidate, accent) >= MIN_TEXT_CONTRAST:
            return candidate
    return BLACK  # unreachable (see the module's docstring), kept for safety


@dataclass(frozen=True)
class Brand:
    accent: str  # the merchant's colour: band, buttons, avatar
    on_accent: str  # text on the accent
    link: str  # link text and focus ring on the page (the accent, darkened when too light)


def make_brand(colour: str | None) -> Brand:
    accent = colour.lower() if colour and HEX_COLOUR.fullmatch(colour) else DEFAULT_ACCENT
    return Brand(accent=accent, on_accent=text_on(accent), link=readable_on(PAGE_BACKGROUND, accent))


def brand_for(session: Session, shop_id: int | None) -> Brand:
    """The shop's brand (the default one for no shop, or a shop that chose no colour)."""
    colour = (
        session.scalar(sa.select(EmailSettings.brand_colour).where(EmailSettings.shop_id == shop_id))
        if shop_id is not None
        else None
    )
    return make_brand(colour)
