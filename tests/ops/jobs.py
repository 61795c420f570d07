"""A job that fails, for the failed-jobs page (enqueued by dotted path, like the app's own)."""

from __future__ import annotations


def explode(reason: str) -> None:
    raise RuntimeError(f"boom: {reason}")
