"""The Runs view: every run in the runs folder's index, filterable, with compare, delete and resume.

`RunsView(tasks, runs_dir)` is a stand-alone window (or an embedded widget with `window=False`). It reads
the SQLite index through background tasks, compares the selected runs by overlaying their curves and
listing metrics and setting differences side by side, deletes a run only after the user confirms, and
asks for a stopped or interrupted run to be resumed through `resume_requested(run_dir)`, which the main
window connects to its training runner.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.qt import jobs
from workbench.qt.plot_theme import ThemedPlotWidget, configure_pyqtgraph, legend_below
from workbench.qt.tasks import TaskFailure, TaskManager
from workbench.qt.widgets.roc_plot import class_colour
from workbench.qt.widgets.tables import read_only_table, set_row, table_item

CURVES = (("accuracy", "Validation accuracy"), ("balanced_accuracy", "Validation balanced accuracy"),
          ("macro_f1", "Validation macro F1"), ("val_loss", "Validation loss"), ("train_loss", "Training loss"),
          ("train_accuracy", "Training accuracy"), ("lr", "Learning rate"))
EXPECTED = (OSError, ValueError, sqlite3.Error)


# --- the view ------------------------------------------------------------------------------------


def _value(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class RunsView(QWidget):
    """All runs of a runs folder; select two or more to compare, one stopped run to resume."""

    resume_requested = Signal(str)  # run folder to continue from its last checkpoint
    runs_changed = Signal()  # a run was deleted (the main window refreshes its run list)

    COLUMNS = ("Run", "Project", "Model", "Strategy", "Status", "Best epoch", "Val accuracy", "Started")

    def __init__(self, tasks: TaskManager, runs_dir: str, parent: QWidget | None = None, window: bool = True) -> None:
        super().__init__(parent)
        if window:
            self.setWindowFlag(Qt.WindowType.Window, True)
            self.setWindowTitle(self.tr("Runs"))
            self.resize(1200, 900)
        self.setObjectName("runsView")
        self.tasks = tasks
        self.runs_dir = runs_dir
        self.runs: list[dict[str, Any]] = []
        self.comparison: dict[str, Any] | None = None
        self.error = ""
        self._build(window)
        self.refresh()

    # --- building ---------------------------------------------------------------------------------

    def _build(self, window: bool = True) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(20, 16, 20, 16)
        outer.setSpacing(10)
        title = QLabel(self.tr("Runs"))
        title.setObjectName("paneTitle")
        self.folder_label = QLabel()
        self.folder_label.setObjectName("paneSubtitle")
        outer.addWidget(title)
        outer.addWidget(self.folder_label)
        top = QHBoxLayout()
        self.filter = QLineEdit()
        self.filter.setObjectName("runsFilter")
        self.filter.setPlaceholderText(self.tr("Filter by run, project, model, strategy or status"))
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.apply_filter)
        refresh = QPushButton(self.tr("Refresh"))
        refresh.clicked.connect(self.refresh)
        top.addWidget(self.filter, 1)
        top.addWidget(refresh)
        outer.addLayout(top)

        self.table = read_only_table([self.tr(c) for c in self.COLUMNS])
        self.table.setObjectName("runsTable")
        self.table.setSelectionMode(self.table.SelectionMode.ExtendedSelection)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.status = QLabel()
        self.status.setObjectName("hint")
        self.compare_button = QPushButton(self.tr("Compare selected"))
        self.compare_button.setObjectName("primary")
        self.compare_button.clicked.connect(self.compare_selected)
        self.resume_button = QPushButton(self.tr("Resume"))
        self.resume_button.clicked.connect(self.resume_selected)
        self.delete_button = QPushButton(self.tr("Delete…"))
        self.delete_button.setObjectName("danger")
        self.delete_button.clicked.connect(self.delete_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.resume_button)
        buttons.addWidget(self.compare_button)
        self.close_button = QPushButton(self.tr("Close"))
        self.close_button.setObjectName("closeButton")
        self.close_button.clicked.connect(self.close)
        self.close_button.setVisible(window)  # embedded in another window, that window closes it
        buttons.addWidget(self.close_button)
        self.table.setMinimumHeight(150)
        upper = QWidget()
        upper.setMinimumHeight(200)
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addWidget(self.table, 1)
        upper_layout.addLayout(buttons)

        self.compare_tabs = QTabWidget()
        self.compare_tabs.setDocumentMode(True)
        curves_page = QWidget()
        curves_layout = QVBoxLayout(curves_page)
        curves_layout.setContentsMargins(0, 8, 0, 0)
        pick = QHBoxLayout()
        pick.addWidget(QLabel(self.tr("Curve")))
        self.curve_choice = QComboBox()
        for key, label in CURVES:
            self.curve_choice.addItem(self.tr(label), key)
        self.curve_choice.currentIndexChanged.connect(self._draw_curves)
        pick.addWidget(self.curve_choice)
        pick.addStretch(1)
        curves_layout.addLayout(pick)
        configure_pyqtgraph()
        self.plot = ThemedPlotWidget(enableMenu=False)
        self.plot.setMinimumHeight(240)
        self.plot.getPlotItem().showGrid(x=True, y=True, alpha=0.15)
        self.plot.getPlotItem().setLabel("bottom", self.tr("epoch"))
        self.legend = legend_below(self.plot.getPlotItem())  # below the axes, never over the curves
        curves_layout.addWidget(self.plot, 1)
        self.metrics_table = read_only_table([self.tr("Metric")])
        self.config_table = read_only_table([self.tr("Setting")])
        self.compare_tabs.addTab(curves_page, self.tr("Curves"))
        self.compare_tabs.addTab(self.metrics_table, self.tr("Metrics"))
        self.compare_tabs.addTab(self.config_table, self.tr("Setting differences"))
        self.compare_tabs.setMinimumHeight(320)
        self.compare_tabs.hide()

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(upper)
        splitter.addWidget(self.compare_tabs)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([280, 520])
        splitter.setChildrenCollapsible(False)
        outer.addWidget(splitter, 1)
        self._update_buttons()

    # --- listing ----------------------------------------------------------------------------------

    def set_runs_dir(self, runs_dir: str) -> None:
        self.runs_dir = runs_dir
        self.refresh()

    def refresh(self) -> None:
        self.folder_label.setText(self.tr("Every run recorded in {0}").format(self.runs_dir or self.tr("(no folder)")))
        self.tasks.submit("runs-view", jobs.list_run_rows, self.runs_dir, label=self.tr("Reading runs"),
                          on_result=self._on_listed, on_error=self._on_error, expected=EXPECTED)

    def _on_listed(self, runs: list[dict[str, Any]]) -> None:
        self.runs = runs
        self.error = ""
        self.table.setRowCount(len(runs))
        for row, run in enumerate(runs):
            accuracy = (run.get("best_metrics") or {}).get("accuracy")
            started = time.strftime("%Y-%m-%d %H:%M", time.localtime(run["started"])) if run.get("started") else ""
            status = run["status"].replace("_", " ")
            if run["status"] == "running" and run.get("resumable"):
                status = self.tr("running or interrupted")
            cells = [run["id"], run.get("project", ""), run.get("model", ""), run.get("strategy", ""), status,
                     _value(run.get("best_epoch")), f"{accuracy:.1%}" if isinstance(accuracy, (int, float)) else "–",
                     started]
            for column, cell in enumerate(cells):  # text left, numbers right
                self.table.setItem(row, column, table_item(cell, align_right=column in (5, 6)))
            self.table.item(row, 0).setData(Qt.ItemDataRole.UserRole, run["run_dir"])
            self.table.item(row, 0).setToolTip(run["run_dir"])
        self.apply_filter()

    def apply_filter(self, *_: object) -> None:
        words = self.filter.text().lower().split()
        shown = 0
        for row, run in enumerate(self.runs):
            text = " ".join(str(run.get(k, "")) for k in ("id", "project", "model", "strategy", "status")).lower()
            hidden = any(word not in text for word in words)
            self.table.setRowHidden(row, hidden)
            shown += not hidden
        self.status.setText(self.tr("{0} of {1} runs shown").format(shown, len(self.runs)))
        self._update_buttons()

    def visible_ids(self) -> list[str]:
        return [run["id"] for row, run in enumerate(self.runs) if not self.table.isRowHidden(row)]

    def selected_runs(self) -> list[dict[str, Any]]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.runs[row] for row in rows if row < len(self.runs) and not self.table.isRowHidden(row)]

    def select_ids(self, ids: list[str]) -> None:
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(self.table.SelectionMode.MultiSelection)
        for row, run in enumerate(self.runs):
            if run["id"] in ids:
                self.table.selectRow(row)
        self.table.setSelectionMode(mode)

    def _update_buttons(self) -> None:
        selected = self.selected_runs()
        self.compare_button.setEnabled(len(selected) >= 2)
        self.delete_button.setEnabled(bool(selected))
        self.resume_button.setEnabled(len(selected) == 1 and bool(selected[0].get("resumable")))
        self.resume_button.setToolTip(self.tr("Continue the selected stopped or interrupted run from its last "
                                              "checkpoint"))

    # --- actions ----------------------------------------------------------------------------------

    def compare_selected(self) -> None:
        selected = self.selected_runs()
        if len(selected) < 2:
            return
        self.status.setText(self.tr("Comparing {0} runs…").format(len(selected)))
        self.tasks.submit("runs-compare", jobs.compare_runs, [r["run_dir"] for r in selected], label=self.tr("Comparing runs"),
                          on_result=self._on_compared, on_error=self._on_error, expected=EXPECTED)

    def _on_compared(self, comparison: dict[str, Any]) -> None:
        self.comparison = comparison
        ids = [r["id"] for r in comparison["runs"]]
        short = [Path(i).name for i in ids]
        for table, mapping in ((self.metrics_table, comparison["metrics"]),
                               (self.config_table, comparison["config_differences"])):
            table.setColumnCount(1 + len(ids))
            table.setHorizontalHeaderLabels([table.horizontalHeaderItem(0).text(), *short])
            table.setRowCount(len(mapping))
            for row, (name, values) in enumerate(mapping.items()):
                set_row(table, row, [name, *(_value(values.get(i)) for i in ids)])
        if not comparison["config_differences"]:
            self.config_table.setRowCount(1)
            self.config_table.setItem(0, 0, table_item(self.tr("The runs used the same settings")))
        self._draw_curves()
        self.compare_tabs.show()
        self.status.setText(self.tr("Comparing {0}").format(", ".join(short)))

    def _draw_curves(self, *_: object) -> None:
        item = self.plot.getPlotItem()
        item.clear()
        self.legend.clear()
        if not self.comparison:
            return
        key = self.curve_choice.currentData()
        item.setLabel("left", self.curve_choice.currentText())
        for i, (run_id, curves) in enumerate(self.comparison["curves"].items()):
            ys = curves.get(key) or []
            points = [(x, y) for x, y in zip(curves.get("epoch", []), ys, strict=False)
                      if x is not None and isinstance(y, (int, float))]
            if points:
                item.plot([p[0] for p in points], [p[1] for p in points], pen=pg.mkPen(class_colour(i), width=2),
                          symbol="o", symbolSize=5, symbolBrush=class_colour(i), symbolPen=None,
                          name=Path(run_id).name)

    def resume_selected(self) -> None:
        selected = self.selected_runs()
        if len(selected) == 1 and selected[0].get("resumable"):
            self.resume_requested.emit(selected[0]["run_dir"])

    def delete_selected(self) -> None:
        selected = self.selected_runs()
        if not selected:
            return
        names = ", ".join(r["id"] for r in selected)
        answer = QMessageBox.question(
            self, self.tr("Delete runs"),
            self.tr("Delete {0} run(s) and their folders, checkpoints and results?\n\n{1}\n\nThis cannot be undone.")
            .format(len(selected), names),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            return
        for run in selected:
            self.tasks.submit(f"runs-delete-{run['id']}", jobs.delete_run, self.runs_dir, run["id"],
                              label=self.tr("Deleting run"), on_result=self._on_deleted, on_error=self._on_error,
                              expected=EXPECTED)

    def _on_deleted(self, run_id: str) -> None:
        self.runs_changed.emit()
        self.refresh()

    def _on_error(self, failure: TaskFailure) -> None:
        self.error = failure.message
        self.status.setText(self.tr("Failed: {0}").format(failure.message))
