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
