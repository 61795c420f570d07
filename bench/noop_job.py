"""The RQ baseline's job (``bench.stack``): nothing to import, nothing to do."""


def noop() -> None:
    """Returns at once: what is measured is RQ's own cost per job."""
