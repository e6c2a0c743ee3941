"""The whole wizard against the real engine: data, samples, model, strategy, train (with pause, stop and
resume), evaluate, export, then save, re-open, and find every pane restored."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from tests.qt.helpers import TINY_TRAINING
from workbench.qt import dialogs
from workbench.qt.recent import recent_projects
from workbench.qt.widgets.step_list import StepState

TIMEOUT = 60_000


def load_dataset(qtbot, window, folder: Path) -> None:
    window.load_dropped(folder)
    qtbot.waitUntil(lambda: window.dataset.scan is not None and not window.dataset.scanning, timeout=TIMEOUT)


def check_data_pane(window) -> None:
    data = window.panes["data"]
    table = data.class_table
    counts = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert counts == {"square": "30", "hbar": "30", "vbar": "30"}
    assert data.chart.bars is not None
    assert data.skipped_table.rowCount() == 1
    assert data.skipped_table.item(0, 0).text() == "broken.png"
    assert "one folder per class" in data.summary.text()
    assert window.steps.status("data").state == StepState.READY


def check_samples_pane(qtbot, window) -> None:
    window.show_step("samples")
    samples = window.panes["samples"]
    qtbot.waitUntil(lambda: len(samples.previews) == 3 * 4 and len(samples.augmented) == 8, timeout=TIMEOUT)
    assert samples.grid.row_count == 3
    assert samples.previews[0].original.shape[:2] == (16, 16)
    samples.resolution.slider.setValue(24)  # the preview follows the slider live
    qtbot.waitUntil(lambda: samples.previews and samples.previews[0].network.shape[:2] == (24, 24), timeout=TIMEOUT)
    assert window.project.config.preprocessing.image_size == 24
    qtbot.waitUntil(lambda: window.dataset.stats is not None, timeout=TIMEOUT)
    assert "Mean" in samples.stats_label.text()


def check_model_pane(qtbot, window) -> None:
    window.show_step("model")
    model = window.panes["model"]
    model.picker.search.setText("resnet")
    assert "resnet18" in model.picker.visible_names() and "small_cnn" not in model.picker.visible_names()
    model.picker.select("resnet18")
    assert window.project.config.model.architecture == "resnet18"
    model.picker.search.clear()
    model.picker.select("small_cnn")
    assert window.project.config.model.architecture == "small_cnn"
    assert model.cnn_form.set_value("width", 8) is None
    assert model.cnn_form.set_value("depth", 2) is None
    # feature_dim = width × 2^(depth-1) = 16 identifies the summary of this width and depth, not an earlier one.
    qtbot.waitUntil(lambda: model.summary is not None and model.summary.input_shape == (3, 24, 24)
                    and model.summary.output_shape == (3,) and model.summary.feature_dim == 16, timeout=TIMEOUT)
    small = model.summary.parameter_count
    model.cnn_form.set_value("width", 16)
    qtbot.waitUntil(lambda: model.summary is not None and model.summary.parameter_count > small, timeout=TIMEOUT)
    model.cnn_form.set_value("width", 8)


def train_with_pause_stop_and_resume(qtbot, window) -> None:
    window.project.update_many(TINY_TRAINING)
    window.show_step("train")
    train = window.panes["train"]
    runner = window.runner
    train.start_button.click()
    assert runner.is_running
    train.pause_button.click()  # paused before the first batch: the loop waits at its first check
    qtbot.waitUntil(lambda: bool(runner.run_dir), timeout=TIMEOUT)  # data prepared, run folder made
    assert runner.is_paused and train.phase == "paused" and train.resume_button.isEnabled()

    train.start_button.setEnabled(True)  # a second start, even forced, is refused with a message
    assert not train.start()
    boxes = [b for b in train.findChildren(QMessageBox) if b.isVisible()]
    assert boxes and "already in progress" in boxes[-1].text()
    boxes[-1].close()

    with qtbot.waitSignal(runner.thread_finished, timeout=TIMEOUT):
        train.stop_button.click()
    assert train.phase == "stopped"
    assert (Path(runner.run_dir) / "checkpoints" / "last.pt").exists()
    assert train.resume_button.isEnabled()

    with qtbot.waitSignal(runner.thread_finished, timeout=TIMEOUT):
        train.resume_button.click()  # continues the stopped run from its checkpoint
    assert train.phase == "completed", train.failure
    assert train.loss_plot.series_length("train") == 2
    assert train.loss_plot.series_length("val") == 2
    assert train.loss_plot.series_length("train_batch") >= 2
    assert train.acc_plot.series_length("val") == 2
    assert train.lr_plot.series_length("batch") >= 2
    assert "Epoch 2/2" in train.log_view.toPlainText()
    assert window.steps.status("train").state == StepState.READY


def evaluate_and_export(qtbot, window, tmp_path: Path) -> None:
    qtbot.waitUntil(lambda: bool(window.runs.current), timeout=TIMEOUT)
    window.show_step("evaluate")
    evaluate = window.panes["evaluate"]
    assert evaluate.result is None  # nothing is evaluated until asked
    evaluate.evaluate_button.click()
    qtbot.waitUntil(lambda: evaluate.result is not None, timeout=TIMEOUT)
    assert evaluate.heatmap.matrix.shape == (3, 3)
    assert evaluate.heatmap.matrix.sum() == evaluate.result.images
    assert evaluate.class_table.rowCount() == 3
    assert evaluate.test_panel.values["accuracy"].text().endswith("%")
    assert evaluate.val_panel.values["accuracy"].text().endswith("%")

    window.show_step("export")
    export = window.panes["export"]
    export.dest_edit.setText(str(tmp_path / "exported"))
    export.export_button.click()
    qtbot.waitUntil(lambda: bool(export.written), timeout=TIMEOUT)
    names = {p.name for p in export.written}
    assert {"model.torchscript.pt", "MODEL_CARD.md", "metrics.csv", "curves.png"} <= names
    assert any(name.endswith(".wbmodel") for name in names)
    assert all(p.exists() for p in export.written)
    assert window.steps.status("export").state == StepState.READY


def check_restored(qtbot, window, original) -> None:
    qtbot.waitUntil(lambda: window.dataset.scan is not None, timeout=TIMEOUT)
    check_data_pane(window)
    assert window.panes["data"].source_edit.text() == original.project.config.data.source
    config = window.project.config
    assert config.model_dump() == original.project.config.model_dump()
    assert window.panes["samples"].resolution.spin.value() == 16
    model = window.panes["model"]
    assert model.picker.tree.currentItem().text(0) == "Small CNN (configurable)"
    assert model.cnn_form.editor("width").value() == 8
    strategy = window.panes["strategy"]
    assert strategy.optim_form.editor("epochs").value() == 2
    assert strategy.optim_form.editor("lr").value() == pytest.approx(0.003)
    qtbot.waitUntil(lambda: bool(window.runs.current), timeout=TIMEOUT)
    assert window.runs.current == original.runs.current
    train = window.panes["train"]
    qtbot.waitUntil(lambda: train.loss_plot.series_length("val") == 2, timeout=TIMEOUT)
    evaluate = window.panes["evaluate"]
    qtbot.waitUntil(lambda: evaluate.result is not None, timeout=TIMEOUT)  # the stored test result
    assert evaluate.heatmap.matrix.tolist() == original.panes["evaluate"].heatmap.matrix.tolist()
    assert window.panes["export"].picker.currentData() == original.runs.current


def test_whole_wizard_end_to_end(qtbot, make_window, shapes_dataset, engine_loaded, tmp_path, monkeypatch) -> None:
    window = make_window()
    load_dataset(qtbot, window, shapes_dataset)
    check_data_pane(window)
    window.project.update("preprocessing.image_size", 16)
    check_samples_pane(qtbot, window)
    check_model_pane(qtbot, window)
    train_with_pause_stop_and_resume(qtbot, window)
    evaluate_and_export(qtbot, window, tmp_path)

    project_file = tmp_path / "project" / "shapes.toml"
    project_file.parent.mkdir()
    monkeypatch.setattr(dialogs, "choose_project_to_save", lambda *a, **k: str(project_file))
    window.save_as_action.trigger()
    assert project_file.exists() and not window.project.dirty
    assert recent_projects(window.settings)[0] == str(project_file.resolve())

    reopened = make_window("other.ini", runs=False)
    assert reopened.open_project(project_file)
    check_restored(qtbot, reopened, window)
