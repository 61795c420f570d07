"""The package layout rule: integration/ never imports the webhooks/ edge or the jobs/ entry points.

It reaches them only by dotted path (RQ job names, blueprint names), so those paths must resolve.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from flask import Blueprint, Flask
from werkzeug.utils import import_string

import integration
from integration import queues
from tests.helpers import ROOT

FORBIDDEN = ("webhooks", "jobs")
INTEGRATION = ROOT / "integration"
SOURCES = sorted(INTEGRATION.rglob("*.py"))


def forbidden_imports(source: str, filename: str = "<source>") -> list[str]:
    """The modules named by every import of ``webhooks`` or ``jobs`` (or their submodules) in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: stays inside integration/
                continue
            names = [node.module or ""]
        else:
            continue
        found += [name for name in names if name.split(".")[0] in FORBIDDEN]
    return found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import webhooks", ["webhooks"]),
        ("import jobs.events", ["jobs.events"]),
        ("import os, jobs.maintenance as m", ["jobs.maintenance"]),
        ("from webhooks import bp", ["webhooks"]),
        ("from jobs.events import process_event", ["jobs.events"]),
        ("def f():\n    from webhooks.common import reject\n", ["webhooks.common"]),
        ("if TYPE_CHECKING:\n    import jobs\n", ["jobs"]),
        ("import webhooks_extra, jobsite\nfrom integration import jobs_helper", []),
        ("from . import jobs", []),
        ("PROCESS = 'jobs.events.process_event'", []),
    ],
)
def test_the_checker_finds_forbidden_imports(source: str, expected: list[str]) -> None:
    assert forbidden_imports(source) == expected


def test_every_integration_module_is_checked() -> None:
    names = {path.relative_to(INTEGRATION).as_posix() for path in SOURCES}
    assert {"__init__.py", "queues.py", "dispatch.py", "cli/events.py", "platforms/shopify.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_integration_never_imports_webhooks_or_jobs(path: Path) -> None:
    assert forbidden_imports(path.read_text(), str(path)) == []


def job_paths() -> dict[str, str]:
    """Every module-level string constant in integration/queues.py that names a job by dotted path."""
    tree = ast.parse(Path(queues.__file__).read_text())
    paths = {}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            value = node.value.value
            if isinstance(target, ast.Name) and isinstance(value, str) and value.startswith("jobs."):
                paths[target.id] = value
    return paths


def test_queues_names_the_known_jobs() -> None:
    paths = job_paths()
    assert paths["PROCESS_EVENT"] == queues.PROCESS_EVENT
    assert paths["SWEEP_EVENTS"] == queues.SWEEP_EVENTS


@pytest.mark.parametrize(("name", "path"), sorted(job_paths().items()))
def test_every_job_path_resolves_to_a_callable(name: str, path: str) -> None:
    target = import_string(path)
    assert callable(target), f"{name} = {path!r} is not callable"
    assert f"{target.__module__}.{target.__qualname__}" == path


@pytest.mark.parametrize("path", integration.BLUEPRINTS)
def test_every_blueprint_path_resolves(path: str) -> None:
    assert isinstance(import_string(path), Blueprint)


def test_blueprints_are_mounted(app: Flask) -> None:
    names = {import_string(path).name for path in integration.BLUEPRINTS}
    assert names <= set(app.blueprints)
