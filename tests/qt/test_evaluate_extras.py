"""The Evaluate pane's extras against the real engine: curves, calibration, gallery, TTA, robustness,
external validation, and the warning on a second look at the test set.

Set WORKBENCH_SHOTS to a folder to also save a picture of each pane state there.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.core.eval_fixtures import template_runs
from tests.qt.helpers import indexed_run, shot
from workbench.core.runs import read_json
from workbench.qt.widgets.step_list import StepState

TIMEOUT = 60_000


@pytest.fixture
def window_with_run(make_window, qtbot, tmp_path, tmp_path_factory):
    templates = template_runs(tmp_path_factory)
    window = make_window()
    window.resize(1400, 1000)
    run_dir = indexed_run(templates["rgb_run"], tmp_path / "runs")
    window.runs.refresh(select=str(run_dir))  # another dataset's run: picked by hand, never by default
    qtbot.waitUntil(lambda: window.runs.current == str(run_dir), timeout=TIMEOUT)
    return window, run_dir, templates


def test_evaluation_shows_curves_gallery_tta_robustness_and_warns_on_second_look(window_with_run, qtbot):
    window, _run_dir, templates = window_with_run
    window.show_step("evaluate")
    pane = window.panes["evaluate"]
    assert pane.result is None and not pane.tabs.isVisible()
    from workbench.core.catalog.tta import TTA_AUGMENTATIONS

    # One TTA list: the pane's boxes are the catalog's entries, with the catalog's labels.
    assert {n: b.text() for n, b in pane.tta_boxes.items()} == {n: t.label for n, t in TTA_AUGMENTATIONS.items()}
    pane.tta_boxes["hflip"].setChecked(True)
    assert window.project.config.evaluation.tta_augmentations == ["hflip"]
    window.project.update_many({"evaluation.robustness": True, "evaluation.gallery_size": 4, "evaluation.tta_rule": "vote"})
    pane.evaluate_button.click()
    assert pane.busy.isVisibleTo(pane) and not pane.evaluate_button.isEnabled()
    qtbot.waitUntil(lambda: pane.result is not None, timeout=TIMEOUT)
    result = pane.result
    assert not pane.busy.isVisibleTo(pane)
    majority = result.get("baselines")["majority_accuracy"]
    assert f"scores {100 * majority:.1f}" in pane.test_panel.baseline.text()  # the score's baseline is shown
    assert set(pane.curves.auc) == set(result.class_names)
    assert all(0.0 <= auc <= 1.0 for auc in pane.curves.auc.values())
    assert pane.calibration.ece == pytest.approx(result.get("ece")) and "ECE" in pane.calibration.summary.text()
    errors = int(sum(result.get("confusion_matrix")[i][j] for i in range(3) for j in range(3) if i != j))
    assert len(pane.gallery.tiles) == min(4, errors)
    assert result.gallery is not None and all(p.strip.ndim == 3 for p in result.gallery)
    assert pane.tabs.isTabVisible(pane.tta_tab) and pane.tta_view.table.rowCount() >= 4
    assert "fixed" in pane.tta_view.summary.text() and result.tta["rule"] == "vote"
    assert pane.tabs.isTabVisible(pane.robustness_tab) and pane.robustness.table.rowCount() == len(
        result.robustness_table["rows"]) > 0
    assert not pane.warning and window.steps.status("evaluate").state == StepState.READY
    pane.normalise.setChecked(True)
    assert all(sum(row) in range(98, 103) for row in pane.heatmap.matrix.tolist() if sum(row))
    for index, name in enumerate(("summary", "curves", "calibration", "gallery", "tta", "robustness")):
        pane.tabs.setCurrentIndex(index)
        shot(window, f"evaluate_{index}_{name}")
    pane.tabs.setCurrentIndex(0)

    pane.evaluate_button.click()  # a second look at the test set is recorded and flagged
    qtbot.waitUntil(lambda: not pane.evaluating, timeout=TIMEOUT)
    assert pane.result.test_uses == 2 and pane.warning
    assert pane.banner.isVisibleTo(pane) and pane.banner.text.text() == pane.warning
    assert "look 2 at this test set" in pane.test_panel.caption.text()
    # Where other runs or projects looked at these test images too, the caption counts as the banner does.
    pane._on_result(dataclasses.replace(pane.result, metrics={**pane.result.metrics, "project_test_uses": 8}))
    assert "look 2 by this run, 8 at these test images in all" in pane.test_panel.caption.text()
    assert window.steps.status("evaluate").state == StepState.ATTENTION

    pane.evaluate_external(str(templates["rgb_data"]))  # external validation, reported on its own
    qtbot.waitUntil(lambda: pane.external is not None, timeout=TIMEOUT)
    assert pane.external_panel.isVisibleTo(pane)
    assert pane.external_panel.metrics.values["accuracy"].text().endswith("%")
    assert "internal test" in pane.external_panel.comparison.text()
    assert pane.result.test_uses == 2  # external validation is not a look at the test set
    area = pane.body.parentWidget().parentWidget()
    area.ensureWidgetVisible(pane.external_panel)
    shot(window, "evaluate_7_external")


def gate_after(monkeypatch, module, name: str) -> tuple:
    """Make the engine pause right after `module.name` runs, until the test opens the gate."""
    import threading

    reached, gate = threading.Event(), threading.Event()
    original = getattr(module, name)

    def paused(*args, **kwargs):
        value = original(*args, **kwargs)
        reached.set()
        gate.wait(30)
        return value

    monkeypatch.setattr(module, name, paused)
    return reached, gate


def test_cancel_before_the_test_images_are_scored_records_nothing(qtbot, window_with_run, monkeypatch) -> None:
    import workbench.core.evaluation.evaluate as engine
    from workbench.core.evaluation.test_lock import read_ledger

    window, run_dir, _ = window_with_run
    window.show_step("evaluate")
    pane = window.panes["evaluate"]
    reached, gate = gate_after(monkeypatch, engine, "prepare_data")
    pane.evaluate_button.click()
    assert pane.cancel_button.isVisibleTo(pane) and pane.cancel_button.isEnabled()
    qtbot.waitUntil(reached.is_set, timeout=TIMEOUT)
    pane.cancel_button.click()
    assert not pane.cancel_button.isEnabled() and "Cancelling" in pane.busy_label.text()
    gate.set()
    qtbot.waitUntil(lambda: not pane.evaluating, timeout=TIMEOUT)
    assert pane.result is None and pane.error == ""
    assert "not used" in pane.banner.text.text() and not pane.cancel_button.isVisibleTo(pane)
    assert read_ledger() == [] and not read_json(Path(run_dir) / "run.json").get("test_evaluations")


def test_cancel_after_scoring_keeps_the_metrics_and_skips_the_extras(qtbot, window_with_run, monkeypatch) -> None:
    from workbench.core.evaluation import storage

    window, run_dir, _ = window_with_run
    window.project.update("evaluation.robustness", True)
    window.show_step("evaluate")
    pane = window.panes["evaluate"]
    reached, gate = gate_after(monkeypatch, storage, "save_predictions")
    pane.evaluate_button.click()
    qtbot.waitUntil(reached.is_set, timeout=TIMEOUT)
    pane.cancel_button.click()
    gate.set()
    qtbot.waitUntil(lambda: not pane.evaluating, timeout=TIMEOUT)
    assert pane.result is not None and "robustness check" in pane.result.skipped
    assert "cancelled, not done: robustness check" in pane.test_panel.caption.text()
    assert pane.result.test_uses == 1 and storage.predictions_path(run_dir, "test").exists()
    assert not pane.tabs.isTabVisible(pane.robustness_tab) and not storage.robustness_path(run_dir, "test").exists()


def test_a_test_set_with_a_missing_image_is_refused_in_the_pane(make_window, qtbot, tmp_path, tmp_path_factory):
    import csv

    from tests.core.eval_fixtures import with_own_dataset
    from workbench.core.evaluation.test_lock import read_ledger

    window = make_window()
    run_dir = indexed_run(template_runs(tmp_path_factory)["grey_run"], tmp_path / "runs")
    with_own_dataset(run_dir, tmp_path / "own-data")
    with (run_dir / "split.csv").open(encoding="utf-8", newline="") as handle:
        lost = Path(next(r["path"] for r in csv.DictReader(handle) if r["split"] == "test"))
    lost.unlink()
    window.runs.refresh(select=str(run_dir))  # another project's run: picked by hand, never by default
    qtbot.waitUntil(lambda: window.runs.current == str(run_dir), timeout=TIMEOUT)
    window.show_step("evaluate")
    pane = window.panes["evaluate"]
    pane.evaluate_button.click()
    qtbot.waitUntil(lambda: not pane.evaluating, timeout=TIMEOUT)
    assert pane.result is None and "are missing" in pane.error and lost.name in pane.error
    assert read_ledger() == []  # refused: the test set was not used
