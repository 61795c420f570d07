"""A job that fails, for the failed-jobs page (enqueued by dotted path, like the app's own)."""

from __future__ import annotations


def explode(reason: str) -> None:
    raise RuntimeError(f"boom: {reason}")


def fails_until(marker: str) -> str:
    """Fails until the file ``marker`` exists (the test makes it before requeueing)."""
    from pathlib import Path

    if not Path(marker).exists():
        raise RuntimeError("the marker file is not there yet")
    return "ok"
