"""The browser tests are never silently skipped in CI (a pytest plugin, loaded by tests/conftest.py).

The page tests drive Debian's /usr/bin/chromium through Playwright and skip without it, which is right
on a developer's machine and wrong in CI: a green run must have run them. ``.ci/run`` installs
chromium and sets ``REQUIRE_BROWSER=1``, and then the run fails when

* /usr/bin/chromium is missing (at once, before any test runs);
* any test was skipped for want of Chromium or Playwright (a skip whose reason names either);
* no browser test passed at all (renamed, deselected, or skipped some other way). A browser test is
  one whose file or name says ``browser`` or ``chromium``.

Without ``REQUIRE_BROWSER`` a run that skipped them says so in one line, with the command that
enables them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_HINT = "sudo apt-get install chromium"
_FAILURE = pytest.StashKey[str]()


def _required() -> bool:
    return os.environ.get("REQUIRE_BROWSER") == "1"


def _is_browser_test(report: pytest.TestReport) -> bool:
    nodeid = report.nodeid.lower()
    return "browser" in nodeid or "chromium" in nodeid


def _skipped_for_the_browser(report: pytest.TestReport) -> bool:
    reason = str(report.longrepr).lower()
    return "chromium" in reason or "playwright" in reason


def pytest_sessionstart(session: pytest.Session) -> None:
    if _required() and not CHROMIUM.exists():
        pytest.exit(f"REQUIRE_BROWSER=1 but {CHROMIUM} is missing ({BROWSER_HINT})", returncode=3)


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    # Under xdist each worker runs this too, with its share of the tests: only the controller decides.
    if not _required() or reporter is None or hasattr(config, "workerinput"):
        return
    skipped = [r for r in reporter.stats.get("skipped", []) if _skipped_for_the_browser(r)]
    ran = [r for r in reporter.stats.get("passed", []) if r.when == "call" and _is_browser_test(r)]
    if skipped:
        failure = f"REQUIRE_BROWSER=1 but {len(skipped)} browser tests were skipped: {skipped[0].longrepr}"
    elif not ran:
        failure = "REQUIRE_BROWSER=1 but no browser test ran (a test whose file or name says browser or chromium)"
    else:
        return
    config.stash[_FAILURE] = failure
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    failure = config.stash.get(_FAILURE, None)
    if failure:
        terminalreporter.write_line(failure, red=True, bold=True)
        return
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if _skipped_for_the_browser(r)]
    if skipped:
        terminalreporter.write_line(
            f"{len(skipped)} browser tests were skipped: no {CHROMIUM}. Enable them with: {BROWSER_HINT}", yellow=True
        )
