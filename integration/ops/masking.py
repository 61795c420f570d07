"""Customer data in a stored body, masked for the event page until an ops user reveals it (audited)."""

from __future__ import annotations

import json
import re
from typing import Any

MASK = "•••"
# Keys whose values identify or locate a person, in either platform's payloads (and any nested
# address): masked whatever the nesting. Over-masking (a product's "name") costs nothing; a miss leaks.
PII_KEY = re.compile(
    r"(e-?mail|phone|name|address|street|zip|postal|postcode|city|company|note|comment|ip$|_ip|"
    r"latitude|longitude|first|last_name|surname|birth|tax|vat|token|ssn|passport)",
    re.IGNORECASE,
)


def mask(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: (_masked(v) if PII_KEY.search(str(k)) else mask(v, str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, key) for v in value]
    return value


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if value is None or isinstance(value, bool) or value == "":
        return value
    return MASK


def show_body(body: bytes, *, revealed: bool) -> str:
    """The body as the page shows it: pretty JSON, masked unless ``revealed``."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        if revealed:
            return body.decode("utf-8", errors="replace")
        return f"(not JSON: {len(body)} bytes, hidden until revealed)"
    return json.dumps(parsed if revealed else mask(parsed), indent=2, ensure_ascii=False, sort_keys=True)
