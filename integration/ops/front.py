"""``GET /``: the front door. What this is, whether it is healthy, where to go; nothing about any shop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, render_template

from integration import runtime_of
from integration.core.health import readiness
from integration.web.security import apply_page_headers

bp = Blueprint("front", __name__)

DEMO_LINKS = "demo/links.json"  # written by `make demo` under the instance folder


def demo_links() -> dict[str, Any] | None:
    """The local demo's links, when a demo ran here (never in production)."""
    settings = runtime_of(current_app).settings
    if settings.is_production:
        return None
    path = Path(settings.instance_path) / DEMO_LINKS
    try:
        links = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return links if isinstance(links, dict) else None


@bp.get("/")
def front_door() -> Any:
    ready, checks = readiness(runtime_of(current_app))
    page = render_template("front.html", ready=ready, checks=checks, demo=demo_links())
    return apply_page_headers(Response(page, status=200, mimetype="text/html"), None)
