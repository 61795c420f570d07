"""The package layout rules.

* integration/ never imports the webhooks/ edge or the jobs/ entry points: it reaches them only by dotted
  path (RQ job names, blueprint names), so those paths must resolve.
* Only integration/platforms/ imports a platform's package or branches on a platform's name.
* integration/ holds packages (one per domain), no loose modules but ``__init__`` and ``wsgi``; no module
  grows past ~400 lines.
* The README's map names every package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from flask import Blueprint, Flask
from werkzeug.utils import import_string

import integration
from integration.core import queues
from integration.core.periodic import per_shop_jobs, periodic_jobs
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
    assert {"__init__.py", "core/queues.py", "events/dispatch.py", "cli/events.py", "platforms/registry.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_integration_never_imports_webhooks_or_jobs(path: Path) -> None:
    assert forbidden_imports(path.read_text(), str(path)) == []


def job_paths() -> dict[str, str]:
    """Every job named by dotted path: the event job, and each domain's periodic and per-shop jobs."""
    paths = {"PROCESS_EVENT": queues.PROCESS_EVENT}
    paths |= {f"periodic {job.func}": job.func for job in periodic_jobs()}
    paths |= {f"per-shop {job.prefix}": job.func for job in per_shop_jobs()}
    return paths


@pytest.mark.parametrize(("name", "path"), sorted(job_paths().items()))
def test_every_job_path_resolves_to_a_callable(name: str, path: str) -> None:
    target = import_string(path)
    assert callable(target), f"{name} = {path!r} is not callable"
    assert f"{target.__module__}.{target.__qualname__}" == path


def test_every_domain_declares_its_jobs_in_one_place() -> None:
    # Each tasks module is the one declaration of its domain's jobs; prefixes never collide, since a
    # prefix is what keeps one job per shop and what an uninstall cancels.
    prefixes = [job.prefix for job in per_shop_jobs()]
    assert len(prefixes) == len(set(prefixes))
    assert {job.queue for job in per_shop_jobs()} <= set(queues.ALL)
    assert {job.queue for job in periodic_jobs()} <= set(queues.ALL)


@pytest.mark.parametrize("path", integration.BLUEPRINTS)
def test_every_blueprint_path_resolves(path: str) -> None:
    assert isinstance(import_string(path), Blueprint)


def test_blueprints_are_mounted(app: Flask) -> None:
    names = {import_string(path).name for path in integration.BLUEPRINTS}
    assert names <= set(app.blueprints)


PLATFORM_PACKAGES = ("integration.platforms.shopify", "integration.platforms.bigcommerce")
PLATFORM_NAMES = ("shopify", "bigcommerce")
OUTSIDE_PLATFORMS = sorted(
    path
    for path in [*SOURCES, *(ROOT / "webhooks").rglob("*.py"), *(ROOT / "jobs").rglob("*.py")]
    if not path.is_relative_to(INTEGRATION / "platforms")
)
MAX_MODULE_LINES = 450  # "~400": a module past this wants splitting by what its parts do


def imported_modules(source: str) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return names


def platform_branches(source: str) -> list[str]:
    """Comparisons against a platform's name (``== "shopify"``, ``Platform.BIGCOMMERCE``, ``in (...)``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        for operand in [node.left, *node.comparators]:
            for leaf in ast.walk(operand):
                named = isinstance(leaf, ast.Constant) and leaf.value in PLATFORM_NAMES
                member = isinstance(leaf, ast.Attribute) and leaf.attr in ("SHOPIFY", "BIGCOMMERCE")
                if named or member:
                    found.append(ast.unparse(node))
    return found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("if shop.platform == Platform.SHOPIFY: pass", ["shop.platform == Platform.SHOPIFY"]),
        ("x = 'bigcommerce' != p", ["'bigcommerce' != p"]),
        ("ok = p in ('shopify', 'other')", ["p in ('shopify', 'other')"]),
        ("PLATFORM = 'shopify'", []),
        ("if p == parts.name: pass", []),
    ],
)
def test_the_branch_finder(source: str, expected: list[str]) -> None:
    assert platform_branches(source) == expected


@pytest.mark.parametrize("path", OUTSIDE_PLATFORMS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_only_platforms_import_a_platform_package(path: Path) -> None:
    bad = [name for name in imported_modules(path.read_text()) if name.startswith(PLATFORM_PACKAGES)]
    assert bad == [], "ask integration.platforms.registry (or .edge at the webhook edge) instead"


@pytest.mark.parametrize("path", OUTSIDE_PLATFORMS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_nothing_outside_platforms_branches_on_a_platform_name(path: Path) -> None:
    assert platform_branches(path.read_text()) == [], "put the difference in the platform's parts"


def test_integration_holds_packages_not_loose_modules() -> None:
    loose = sorted(p.name for p in INTEGRATION.glob("*.py") if p.name not in ("__init__.py", "wsgi.py"))
    assert loose == []


@pytest.mark.parametrize("path", [*SOURCES, *OUTSIDE_PLATFORMS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_modules_stay_small(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_MODULE_LINES


def test_the_readme_map_names_every_package() -> None:
    readme = (ROOT / "README.md").read_text()
    packages = sorted(
        p.parent.relative_to(ROOT).as_posix() + "/" for p in INTEGRATION.rglob("__init__.py") if p.parent != INTEGRATION
    )
    missing = [package for package in packages if f"`{package}`" not in readme]
    assert missing == []
