"""tests/browser_check.py: CI (REQUIRE_BROWSER=1) fails unless the browser tests ran; a plain run says
in one line that they were skipped and how to enable them. Each case runs pytest on a tiny suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

PASSING = "def test_page_in_browser():\n    assert True\n"
SKIPPING = (
    "import pytest\n\n"
    "@pytest.mark.skip(reason='no Chromium at /usr/bin/chromium (apt-get install chromium)')\n"
    "def test_page_in_browser():\n    pass\n"
)
NO_PLAYWRIGHT = "import pytest\n\ndef test_install_in_chromium():\n    pytest.importorskip('playwright_is_not_here')\n"
OTHER = "def test_something_else():\n    assert True\n"


def _pytest(tmp_path: Path, files: dict[str, str], *, required: bool, workers: int = 0) -> tuple[int, str]:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.browser_check"]\n')
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("REQUIRE_BROWSER", None)
    if required:
        env["REQUIRE_BROWSER"] = "1"
    args = [sys.executable, "-m", "pytest", "-q", "-ra", "-p", "no:randomly", "-p", "no:cacheprovider"]
    args += ["-n", str(workers)] if workers else ["-p", "no:xdist"]
    result = subprocess.run([*args, str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    return result.returncode, result.stdout + result.stderr


def test_ci_passes_when_the_browser_tests_ran(tmp_path: Path) -> None:
    code, output = _pytest(tmp_path, {"test_page.py": PASSING, "test_other.py": OTHER}, required=True)
    assert code == 0, output


@pytest.mark.parametrize("workers", [0, 2], ids=["serial", "xdist"])
def test_ci_fails_when_a_browser_test_was_skipped(tmp_path: Path, workers: int) -> None:
    """Regression: CI checked only that the binary exists; a skipped page test still left it green."""
    files = {"test_page.py": PASSING, "test_skipped_page_browser.py": SKIPPING, "test_other.py": OTHER}
    code, output = _pytest(tmp_path, files, required=True, workers=workers)
    assert code == 1, output
    assert "REQUIRE_BROWSER=1 but 1 browser tests were skipped" in output


def test_ci_fails_when_playwright_is_missing(tmp_path: Path) -> None:
    code, output = _pytest(tmp_path, {"test_page.py": PASSING, "test_install.py": NO_PLAYWRIGHT}, required=True)
    assert code == 1, output


def test_ci_fails_when_no_browser_test_ran_at_all(tmp_path: Path) -> None:
    code, output = _pytest(tmp_path, {"test_other.py": OTHER}, required=True)
    assert code == 1, output
    assert "no browser test ran" in output


def test_a_plain_run_says_in_one_line_that_they_were_skipped_and_how_to_enable_them(tmp_path: Path) -> None:
    files = {"test_skipped_page_browser.py": SKIPPING, "test_other.py": OTHER}
    code, output = _pytest(tmp_path, files, required=False)
    assert code == 0, output
    lines = [line for line in output.splitlines() if "Enable them with" in line]
    assert lines == [
        "1 browser tests were skipped: no /usr/bin/chromium. Enable them with: sudo apt-get install chromium"
    ]
