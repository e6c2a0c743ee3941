"""The k-fold cross-validation table of the Train pane: one row per fold run, then the mean ± std row.

Rows fill in as the engine's fold runs finish (from their RunFinished events); the summary row comes from
the engine's KFoldResult, so the numbers shown are the ones written to `kfold-<run>.json`.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

# (metric key in best_metrics / KFoldResult.metrics, column title)
METRIC_COLUMNS = (("accuracy", "Accuracy"), ("balanced_accuracy", "Balanced acc."), ("macro_f1", "Macro F1"),
                  ("val_loss", "Val. loss"))
FIXED_COLUMNS = ("Fold", "Run", "Status", "Best epoch")


def format_metric(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) and math.isfinite(value) else "–"


def format_mean_std(mean: float, std: float) -> str:
    if not math.isfinite(mean):
        return "–"
    return f"{mean:.4f} ± {std:.4f}" if math.isfinite(std) else f"{mean:.4f}"


class KFoldTable(QTableWidget):
    """Fold runs of a cross-validation as they finish, and their mean ± standard deviation."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(FIXED_COLUMNS) + len(METRIC_COLUMNS), parent)
        self.setObjectName("kfoldTable")
        self.setHorizontalHeaderLabels([self.tr(t) for t in FIXED_COLUMNS] + [self.tr(t) for _, t in METRIC_COLUMNS])
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.k = 0

    def begin(self, k: int) -> None:
        """A new cross-validation of `k` folds: one pending row per fold."""
        self.k = k
        self.setRowCount(k)
        for fold in range(k):
            self._set_row(fold, [str(fold + 1), "", self.tr("waiting")] + [""] * (1 + len(METRIC_COLUMNS)))
        self._fit_height()

    def reopen(self) -> int:
        """A stopped cross-validation continues: drop the summary row, mark unfinished folds as waiting, and
        return the index of the first fold still to train."""
        self.setRowCount(self.k)
        first = self.k
        for fold in range(self.k):
            if self.cell_text(fold, 2) not in ("completed", "early stopped"):
                first = min(first, fold)
                if self.cell_text(fold, 2) != "stopped":
                    self._set_row(fold, [str(fold + 1), "", self.tr("waiting")] + [""] * (1 + len(METRIC_COLUMNS)))
        self._fit_height()
        return first

    def fold_started(self, fold: int, run_id: str) -> None:
        if 0 <= fold < self.rowCount():
            self._set_row(fold, [str(fold + 1), run_id, self.tr("training")] + [""] * (1 + len(METRIC_COLUMNS)))

    def fold_finished(self, fold: int, status: str, best_epoch: int, metrics: dict[str, Any]) -> None:
        if not 0 <= fold < self.rowCount():
            return
        run_id = self.item(fold, 1).text() if self.item(fold, 1) else ""
        values = [format_metric(metrics.get(key)) for key, _ in METRIC_COLUMNS]
        self._set_row(fold, [str(fold + 1), run_id, status.replace("_", " "), str(best_epoch or "–"), *values])

    def set_summary(self, metrics: dict[str, tuple[float, float]], completed: int) -> None:
        """Append the mean ± std row over the `completed` folds (sample standard deviation)."""
        row = self.rowCount()
        self.setRowCount(row + 1)
        values = [format_mean_std(*metrics[key]) if key in metrics else "–" for key, _ in METRIC_COLUMNS]
        self._set_row(row, [self.tr("mean ± std"), self.tr("{0} of {1} folds").format(completed, self.k), "", "", *values],
                      bold=True)
        self._fit_height()

    def _fit_height(self) -> None:
        """As tall as its rows, so the pane, not the table, scrolls."""
        rows = sum(self.rowHeight(r) for r in range(self.rowCount()))
        self.setFixedHeight(self.horizontalHeader().height() + rows + 2 * self.frameWidth() + 2)

    def cell_text(self, row: int, column: int) -> str:
        item = self.item(row, column)
        return item.text() if item is not None else ""

    def _set_row(self, row: int, texts: list[str], bold: bool = False) -> None:
        for column, text in enumerate(texts):
            item = QTableWidgetItem(text)
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            if bold:
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
            self.setItem(row, column, item)
