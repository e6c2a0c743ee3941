"""k-fold cross-validation driven from the app: the number of folds set in the Data step, one click in the Train
step, every fold trained in the worker thread, and the folds' metrics reported as mean ± std."""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

from tests.qt.helpers import TIMEOUT, prepared_window, set_option
from workbench.core.evaluation.test_lock import read_ledger


def split_rows(run_dir: Path) -> dict[str, set[str]]:
    with (run_dir / "split.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {name: {r["path"] for r in rows if r["split"] == name} for name in ("train", "val", "test")}


def test_cross_validation_runs_every_fold_and_reports_mean_and_std(qtbot, make_window, shapes_dataset,
                                                                   engine_loaded) -> None:
    window = prepared_window(qtbot, make_window, shapes_dataset)
    set_option(window.panes["data"].split_form, "k_folds", 3)
    set_option(window.panes["strategy"].optim_form, "epochs", 1)
    window.show_step("train")
    train = window.panes["train"]
    assert train.kfold_button.text() == "Cross-validate (3 folds)"
    assert not train.kfold_group.isVisibleTo(train)

    started: list[str] = []
    window.runner.run_started.connect(lambda event: started.append(event.run_dir))
    with qtbot.waitSignal(window.runner.result, timeout=3 * TIMEOUT) as returned:
        train.kfold_button.click()
        assert train.kfold_group.isVisibleTo(train)
        assert not train.kfold_button.isEnabled()
    result = returned.args[0]
    qtbot.waitUntil(lambda: not window.runner.is_running, timeout=TIMEOUT)

    assert result.status == "completed", result.reason
    assert len(result.folds) == 3 and len(started) == 3
    table = train.kfold_table
    assert table.rowCount() == 4  # three folds and the summary row
    accuracies = [fold.best_metrics["accuracy"] for fold in result.folds]
    for row, accuracy in enumerate(accuracies):
        assert table.cell_text(row, 2) == "completed"
        assert table.cell_text(row, 4) == f"{accuracy:.4f}"
    summary = table.cell_text(3, 4)
    assert summary == f"{statistics.mean(accuracies):.4f} ± {statistics.stdev(accuracies):.4f}"
    assert math.isclose(result.metrics["accuracy"][0], statistics.mean(accuracies))
    assert "3 of 3 folds" in train.kfold_note.text() and "accuracy" in train.k_fold_summary
    assert train.status().message == "Cross-validated · 3 folds"
    assert result.summary_path is not None and result.summary_path.is_file()

    # Each fold validated on its own part of the training pool; the test split stayed the same and unused.
    splits = [split_rows(Path(run)) for run in started]
    assert all(s["test"] == splits[0]["test"] for s in splits)
    vals = [s["val"] for s in splits]
    assert all(vals[i].isdisjoint(vals[j]) for i in range(3) for j in range(i + 1, 3))
    assert all(v.isdisjoint(splits[0]["test"]) for v in vals)
    assert read_ledger() == []
    assert window.project.config.data.k_folds == 3  # the project's own settings are unchanged


def test_stopping_a_cross_validation_stops_after_the_current_fold(qtbot, make_window, shapes_dataset,
                                                                 engine_loaded) -> None:
    window = prepared_window(qtbot, make_window, shapes_dataset)
    set_option(window.panes["strategy"].optim_form, "epochs", 3)
    window.show_step("train")
    train = window.panes["train"]
    assert train.kfold_button.text() == "Cross-validate (5 folds)"  # no folds set in the Data step: five
    with qtbot.waitSignal(window.runner.result, timeout=3 * TIMEOUT) as returned:
        with qtbot.waitSignal(window.runner.batch, timeout=TIMEOUT):
            train.kfold_button.click()
        train.stop_button.click()
    result = returned.args[0]
    assert result.status == "stopped"
    assert len(result.folds) == 1
    assert train.kfold_table.cell_text(0, 2) == "stopped"
    assert train.kfold_table.cell_text(1, 2) == "waiting"
    assert "0 of 5 folds" in train.kfold_note.text()

    # Resume continues the stopped fold from its checkpoint, then runs the other four.
    qtbot.waitUntil(lambda: not window.runner.is_running, timeout=TIMEOUT)
    assert train.resume_button.isEnabled()
    with qtbot.waitSignal(window.runner.result, timeout=5 * TIMEOUT) as returned:
        train.resume_button.click()
    resumed = returned.args[0]
    assert resumed.status == "completed" and len(resumed.folds) == 5
    assert resumed.folds[0].run_id == result.folds[0].run_id and resumed.summary_path == result.summary_path
    assert [train.kfold_table.cell_text(row, 2) for row in range(5)] == ["completed"] * 5
    assert train.kfold_table.rowCount() == 6 and "5 of 5 folds" in train.kfold_table.cell_text(5, 1)
    qtbot.waitUntil(lambda: not window.runner.is_running, timeout=TIMEOUT)
    assert not train.resume_button.isEnabled()
