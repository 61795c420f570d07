"""The process's metrics follow the app's multiprocess folder, also when a process builds a second app."""

from __future__ import annotations

from pathlib import Path

from integration.core import telemetry
from tests.helpers import AppFactory


def test_a_second_app_in_another_folder_counts_there(make_app: AppFactory, tmp_path: Path) -> None:
    first = make_app()
    telemetry.webhook_answered("shopify", "orders/create", "accepted", 0.01)
    second = make_app(prometheus_multiproc_dir=tmp_path / "elsewhere")  # raised DuplicateTimeseries before
    telemetry.webhook_answered("shopify", "orders/create", "accepted", 0.01)
    assert first is not second
    assert list((tmp_path / "elsewhere").glob("counter_*.db"))


def test_clear_dir_removes_the_files_of_processes_that_are_gone(tmp_path: Path) -> None:
    (tmp_path / "counter_123.db").write_bytes(b"x")
    (tmp_path / "histogram_456.db").write_bytes(b"x")
    (tmp_path / "README").write_text("kept")
    telemetry.clear_dir(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README"]
