"""The process's metrics follow the app's multiprocess folder, also when a process builds a second app."""

from __future__ import annotations

import contextlib
from pathlib import Path

from integration.core import telemetry
from integration.core.runtime import Runtime
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


def counted(name: str) -> dict[str, float]:
    """The summed multiprocess samples of one counter, by its one label's value."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    directory = telemetry.metrics_dir()
    assert directory is not None
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    return {
        next(iter(sample.labels.values())): sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == f"{name}_total"
    }


def test_check_ins_count_once_their_transaction_commits(make_app: AppFactory, runtime: Runtime) -> None:
    make_app()
    with runtime.session() as session:
        telemetry.checkin_changed(session, "created")
    with contextlib.suppress(RuntimeError), runtime.session() as session:
        telemetry.checkin_changed(session, "done")
        raise RuntimeError("rolled back")
    assert counted("pc_checkins_changed") == {"created": 1.0}
