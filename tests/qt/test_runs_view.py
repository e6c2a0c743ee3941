"""The Runs view: lists the indexed runs, filters them, compares two, resumes a stopped one and deletes
only after the user confirms."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from tests.core.eval_fixtures import template_runs
from tests.qt.helpers import indexed_run, shot
from workbench.qt import runs_view as runs_view_module
from workbench.qt.runs_view import RunsView
from workbench.qt.tasks import TaskManager

TIMEOUT = 60_000


@pytest.fixture
def view(qtbot, tmp_path, tmp_path_factory):
    templates = template_runs(tmp_path_factory)
    runs = tmp_path / "runs"
    indexed_run(templates["rgb_run"], runs, "run-a")
    indexed_run(templates["grey_run"], runs, "run-b")
    indexed_run(templates["rgb_run"], runs, "run-c", status="stopped")
    tasks = TaskManager()
    widget = RunsView(tasks, str(runs))
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitUntil(lambda: len(widget.runs) == 3, timeout=TIMEOUT)
    yield widget
    tasks.cancel_all()
    tasks.wait(30_000)


def test_lists_filters_and_compares(view, qtbot):
    assert {r["id"] for r in view.runs} == {"run-a", "run-b", "run-c"}
    view.filter.setText("stopped")
    assert view.visible_ids() == ["run-c"]
    view.filter.setText("run-a")
    assert view.visible_ids() == ["run-a"]
    view.filter.clear()
    assert len(view.visible_ids()) == 3
    view.select_ids(["run-a", "run-b"])
    assert view.compare_button.isEnabled() and not view.resume_button.isEnabled()
    view.compare_button.click()
    qtbot.waitUntil(lambda: view.comparison is not None, timeout=TIMEOUT)
    assert view.compare_tabs.isVisibleTo(view)
    assert view.metrics_table.columnCount() == 3 and view.metrics_table.rowCount() > 0
    assert any(view.config_table.item(r, 0).text() == "data.source" for r in range(view.config_table.rowCount()))
    assert len(view.plot.getPlotItem().listDataItems()) == 2
    shot(view, "runs_0_compare")


def test_resume_and_delete_after_confirming(view, qtbot, monkeypatch):
    stopped = next(r for r in view.runs if r["id"] == "run-c")
    view.select_ids(["run-c"])
    assert view.resume_button.isEnabled()
    with qtbot.waitSignal(view.resume_requested, timeout=5_000) as blocker:
        view.resume_button.click()
    assert blocker.args == [stopped["run_dir"]]

    asked: list[str] = []
    answer = QMessageBox.StandardButton.Cancel
    monkeypatch.setattr(runs_view_module.QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or answer)
    view.select_ids(["run-a"])
    target = Path(next(r for r in view.runs if r["id"] == "run-a")["run_dir"])
    view.delete_button.click()
    assert asked and "run-a" in asked[0]
    assert target.exists() and len(view.runs) == 3  # declined: nothing deleted
    answer = QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(view.runs_changed, timeout=TIMEOUT):
        view.delete_button.click()
    qtbot.waitUntil(lambda: len(view.runs) == 2, timeout=TIMEOUT)
    assert not target.exists() and "run-a" not in {r["id"] for r in view.runs}


def test_the_runs_view_and_the_train_pane_share_one_resumable_rule(make_window, qtbot, tmp_path, tmp_path_factory):
    """A stopped run whose last.pt is gone (best.pt alone) is resumable in neither place; with last.pt, in both."""
    templates = template_runs(tmp_path_factory)
    runs = tmp_path / "runs"  # the window's runs folder
    with_last = indexed_run(templates["rgb_run"], runs, "stopped-last", status="stopped")
    best_only = indexed_run(templates["rgb_run"], runs, "stopped-best", status="stopped")
    (best_only / "checkpoints" / "last.pt").unlink()
    assert (best_only / "checkpoints" / "best.pt").is_file()
    window = make_window()
    view = RunsView(window.tasks, str(runs), window=False)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: len(view.runs) == 2, timeout=TIMEOUT)
    assert {r["id"]: r["resumable"] for r in view.runs} == {"stopped-last": True, "stopped-best": False}
    view.select_ids(["stopped-best"])
    assert not view.resume_button.isEnabled()
    train = window.panes["train"]
    for run_dir, expected in ((with_last, str(with_last)), (best_only, "")):
        window.runs.refresh(select=str(run_dir))
        qtbot.waitUntil(lambda run_dir=run_dir: window.runs.current == str(run_dir), timeout=TIMEOUT)
        assert train.resumable_run() == expected


def test_a_run_the_rebuilt_index_calls_interrupted_is_offered_for_resume(make_window, qtbot, tmp_path,
                                                                         tmp_path_factory):
    from workbench.core.run_folder import RunFolder

    templates = template_runs(tmp_path_factory)
    run_dir = indexed_run(templates["rgb_run"], tmp_path / "runs", "crashed", status="interrupted")
    window = make_window()
    window.project.update("data.source", RunFolder(run_dir).load_config().data.source)  # this run's dataset
    window.runs.refresh()
    qtbot.waitUntil(lambda: window.runs.record(str(run_dir)) is not None, timeout=TIMEOUT)
    assert window.runs.interrupted_run().run_dir == str(run_dir)
    RunFolder(run_dir).last_checkpoint.unlink()  # nothing to continue from: not offered
    assert window.runs.interrupted_run() is None
