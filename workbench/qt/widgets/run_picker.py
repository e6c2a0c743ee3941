"""A combo box of the project's runs that follows, and sets, the run history's current run."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtWidgets import QComboBox, QWidget

from workbench.qt.run_history import RunHistory


def describe_run(record: Any) -> str:
    started = time.strftime("%Y-%m-%d %H:%M", time.localtime(record.started)) if record.started else ""
    metrics = record.best_metrics or {}
    accuracy = metrics.get("accuracy")
    score = f" · val acc {accuracy:.1%}" if isinstance(accuracy, (int, float)) else ""
    return f"{record.id} · {record.model} · {record.status.replace('_', ' ')}{score} · {started}"


class RunPicker(QComboBox):
    """Lists runs that have a saved model; choosing one makes it the current run everywhere."""

    def __init__(self, runs: RunHistory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runPicker")
        self.setMinimumWidth(360)
        self._runs = runs
        self._filling = False
        runs.changed.connect(self._fill)
        runs.current_changed.connect(self._select)
        self.currentIndexChanged.connect(self._on_index)
        self._fill()

    def _fill(self) -> None:
        self._filling = True
        self.clear()
        for record in self._runs.usable_runs():
            self.addItem(describe_run(record), record.run_dir)
        if self.count() == 0:
            self.addItem(self.tr("No finished runs yet"), "")
        self._filling = False
        self._select(self._runs.current)

    def _select(self, run_dir: str) -> None:
        index = self.findData(run_dir)
        if index >= 0 and index != self.currentIndex():
            self._filling = True
            self.setCurrentIndex(index)
            self._filling = False

    def _on_index(self, index: int) -> None:
        if not self._filling and index >= 0 and self.itemData(index):
            self._runs.set_current(self.itemData(index))
