"""Helpers for the GUI tests: a tiny training configuration, registered copies of trained runs, windows made
ready for a strategy, entering form values as a user would, and pictures of widgets for looking by eye.

The generated dataset itself is `tests.helpers.write_shapes_dataset`, shared with the engine's tests.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

TIMEOUT = 60_000  # ms: generous, as two cores are shared by several test runs

TINY_TRAINING = {
    "preprocessing.image_size": 16,
    "model.architecture": "small_cnn",
    "model.small_cnn.width": 8,
    "model.small_cnn.depth": 2,
    "training.epochs": 2,
    "training.batch_size": 16,
    "training.lr": 0.003,
    "training.device": "cpu",
    "export.onnx": False,
    "evaluation.gallery_size": 0,
    "evaluation.bootstrap_samples": 50,
}


def indexed_run(template: Path, runs_dir: Path, run_id: str = "", status: str = "completed") -> Path:
    """A copy of a trained run registered in the SQLite index of `runs_dir` (so the GUI lists it)."""
    from workbench.core.config import load_config
    from workbench.core.runs import RunStore, read_json

    store = RunStore(runs_dir)
    run_id, run_dir = store.create(load_config(template / "config.toml"), run_id or template.name)
    shutil.copytree(template, run_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns("cache", "runs.sqlite*"))
    summary = read_json(run_dir / "run.json", {}) or {}
    store.update(run_id, status=status, best_epoch=summary.get("best_epoch"),
                 best_metrics=summary.get("best_metrics") or {}, ended=True)
    return run_dir


def shot(widget, name: str) -> None:
    """Save a picture of `widget` when WORKBENCH_SHOTS names a folder (for looking at layouts by eye)."""
    folder = os.environ.get("WORKBENCH_SHOTS")
    if folder:
        from PySide6.QtWidgets import QApplication

        from workbench.qt.resources import style_sheet

        if not widget.window().styleSheet():
            widget.window().setStyleSheet(style_sheet())
        for _ in range(3):  # let the new style's sizes reach the layouts before the picture is taken
            QApplication.processEvents()
        Path(folder).mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(Path(folder) / f"{name}.png"))


def prepared_window(qtbot, make_window, dataset: Path):
    """A main window with `dataset` loaded and tiny training settings, showing the Strategy step."""
    window = make_window()
    window.load_dropped(dataset)
    qtbot.waitUntil(lambda: window.dataset.scan is not None and not window.dataset.scanning, timeout=TIMEOUT)
    window.project.update_many({k: v for k, v in TINY_TRAINING.items() if not k.startswith("training.epochs")})
    window.show_step("strategy")
    return window


def set_option(form, name: str, value: object) -> None:
    """Enter a value through the form's own editor (the combo's entry, the spin box, the line edit)."""
    editor = form.editor(name)
    if hasattr(editor, "findData"):
        index = editor.findData(value)
        assert index >= 0, (name, value)
        editor.setCurrentIndex(index)
        editor.activated.emit(index)
    elif hasattr(editor, "setValue"):
        editor.setValue(value)
    else:
        editor.setText(str(value))
        editor.editingFinished.emit()
    assert form.error_text(name) == "", form.error_text(name)
