"""Evaluate step: measure the trained model on the locked test set, on request only."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from workbench.core.config import ConfigError
from workbench.qt import jobs
from workbench.qt.panes.base import Pane, group, hint
from workbench.qt.tasks import TaskFailure
from workbench.qt.widgets.confusion_heatmap import ConfusionHeatmap
from workbench.qt.widgets.run_picker import RunPicker
from workbench.qt.widgets.step_list import StepState, StepStatus
from workbench.qt.widgets.tables import read_only_table, set_row

HEADLINE = (("accuracy", "Accuracy"), ("balanced_accuracy", "Balanced accuracy"), ("macro_f1", "Macro F1"),
            ("weighted_f1", "Weighted F1"))


def _percent(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) and value == value else "–"


class MetricsPanel(QWidget):
    """A column of big headline numbers with a title."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("metricsPanel")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel(f"<b>{title}</b>")
        self.caption = hint("")
        layout.addWidget(self.title)
        layout.addWidget(self.caption)
        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(6)
        self.values: dict[str, QLabel] = {}
        self.intervals: dict[str, QLabel] = {}
        self.interval_header = QLabel("")
        self.interval_header.setObjectName("factName")
        grid.addWidget(self.interval_header, 0, 2)
        for row, (key, label) in enumerate(HEADLINE, start=1):
            name = QLabel(self.tr(label))
            name.setObjectName("factName")
            value = QLabel("–")
            value.setObjectName("bigNumber")
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            interval = QLabel("")
            interval.setObjectName("factName")
            grid.addWidget(name, row, 0)
            grid.addWidget(value, row, 1)
            grid.addWidget(interval, row, 2)
            self.values[key] = value
            self.intervals[key] = interval
        layout.addLayout(grid)
        layout.addStretch(1)

    def set_metrics(self, metrics: dict[str, Any], caption: str = "") -> None:
        """Headline numbers, with their bootstrap 95 % intervals when the metrics carry them."""
        intervals = metrics.get("confidence_intervals") or {}
        self.interval_header.setText(self.tr("95 % CI") if intervals else "")
        self.interval_header.setToolTip(self.tr("Bootstrap confidence intervals over the test images"))
        for key, label in self.values.items():
            label.setText(_percent(metrics.get(key)))
            ci = intervals.get(key) or {}
            low, high = ci.get("low"), ci.get("high")
            has_ci = isinstance(low, float) and isinstance(high, float) and low == low and high == high
            self.intervals[key].setText(f"{100 * low:.1f}–{100 * high:.1f}" if has_ci else "")
            self.intervals[key].setToolTip(self.tr("95 % bootstrap confidence interval") if has_ci else "")
        self.caption.setText(caption)


class EvaluatePane(Pane):
    key = "evaluate"
    title = "Evaluate"
    subtitle = "Measure the finished model on the test set it has never seen. Do this once you have stopped tuning."

    def __init__(self, context, parent=None) -> None:
        super().__init__(context, parent)
        self.runs = context.runs
        self.tasks = context.tasks
        self.runner = context.runner
        self.result: dict[str, Any] | None = None
        self.error = ""
        self.evaluating = False
        self._build()
        self.runs.changed.connect(self._update_state)
        self.runs.current_changed.connect(self._on_current_run)
        self.runner.running_changed.connect(self._update_state)
        self._update_state()

    def _build(self) -> None:
        self.picker = RunPicker(self.runs)
        self.evaluate_button = QPushButton(self.tr("Evaluate on test set"))
        self.evaluate_button.setObjectName("primary")
        self.evaluate_button.clicked.connect(self.evaluate)
        row = QHBoxLayout()
        row.addWidget(QLabel(self.tr("Run")))
        row.addWidget(self.picker, 1)
        row.addWidget(self.evaluate_button)
        self.result_note = hint(self.tr("The test images are locked away during training. Each evaluation is "
                                        "recorded with the run, so the number of looks at the test set is known."))
        self.body_layout.addWidget(group(self.tr("Run to evaluate"), row, self.result_note))

        self.test_panel = MetricsPanel(self.tr("Test set"))
        self.val_panel = MetricsPanel(self.tr("Validation, best epoch"))
        metrics_row = QHBoxLayout()
        metrics_row.setSpacing(32)
        metrics_row.addWidget(self.test_panel, 1)
        metrics_row.addWidget(self.val_panel, 1)
        self.heatmap = ConfusionHeatmap()
        self.class_table = read_only_table([self.tr("Class"), self.tr("Precision"), self.tr("Recall"), self.tr("F1"),
                                            self.tr("Test images")])
        self.class_table.setMinimumHeight(220)
        left = QVBoxLayout()
        left.setSpacing(14)
        left.addWidget(group(self.tr("Overall"), metrics_row))
        left.addWidget(group(self.tr("Per class (test set)"), self.class_table), 1)
        layout = QHBoxLayout()
        layout.setSpacing(14)
        layout.addLayout(left, 1)
        layout.addWidget(group(self.tr("Confusion matrix (test set)"), self.heatmap), 1)
        self.results = QWidget()
        self.results.setLayout(layout)
        layout.setContentsMargins(0, 0, 0, 0)
        self.body_layout.addWidget(self.results, 1)

    # --- actions ----------------------------------------------------------------------------------

    def evaluate(self) -> None:
        run_dir = self.runs.current
        if not run_dir:
            self._update_state()
            return
        self.evaluating = True
        self.error = ""
        self._update_state()
        self.tasks.submit("evaluate", jobs.evaluate_run, run_dir, "test", label=self.tr("Evaluating on the test set"),
                          on_result=self._on_result, on_error=self._on_error,
                          expected=(ConfigError, FileNotFoundError, ValueError))

    def _on_result(self, result: dict[str, Any], stored: bool = False) -> None:
        self.evaluating = False
        self.result = result
        self.error = ""
        epoch = result.get("checkpoint_epoch")
        count = result.get("support") or sum(v.get("support", 0) for v in result.get("per_class", {}).values())
        caption = self.tr("{0} test images · model from epoch {1}").format(count, epoch)
        if stored:
            caption += self.tr(" · stored result")
        self.test_panel.set_metrics(result, caption)
        self.val_panel.set_metrics(result.get("best_val_metrics", {}), self.tr("the epoch the run kept as best"))
        self.heatmap.set_matrix(result.get("confusion_matrix", []), result.get("class_names", []))
        per_class = result.get("per_class", {})
        self.class_table.setRowCount(len(per_class))
        for row, (name, values) in enumerate(per_class.items()):
            cells = [name, f"{values['precision']:.3f}", f"{values['recall']:.3f}", f"{values['f1']:.3f}",
                     str(values["support"])]
            set_row(self.class_table, row, cells)
        if result.get("warning"):
            self.show_notice(result["warning"], "info")
        self._update_state()

    def _on_error(self, failure: TaskFailure) -> None:
        self.evaluating = False
        self.error = failure.message
        self._update_state()

    def _on_current_run(self, run_dir: str) -> None:
        self.result = None
        self.error = ""
        self._clear_results()
        if run_dir:
            self.tasks.submit("stored-evaluation", jobs.stored_test_metrics, run_dir, label=self.tr("Reading results"),
                              on_result=lambda r: self._on_result(r, stored=True) if r else None)
        self._update_state()

    def _clear_results(self) -> None:
        self.test_panel.set_metrics({})
        self.val_panel.set_metrics({})
        self.heatmap.clear()
        self.class_table.setRowCount(0)

    def _update_state(self, *_: object) -> None:
        has_run = bool(self.runs.current)
        self.evaluate_button.setEnabled(has_run and not self.evaluating)
        self.evaluate_button.setText(self.tr("Evaluating…") if self.evaluating else self.tr("Evaluate on test set"))
        self.results.setVisible(self.result is not None)
        if not has_run:
            self.show_notice(self.tr("This step needs a trained model: finish (or stop) a run in the Train step "
                                     "first."), target="train")
        elif self.error:
            self.show_notice(self.tr("Evaluation failed: {0}").format(self.error))
        elif self.result is None or not self.result.get("warning"):
            self.clear_notice()
        self.status_changed.emit()

    def status(self) -> StepStatus:
        if not self.runs.current:
            return StepStatus(StepState.NOT_STARTED, self.tr("Needs a trained run"))
        if self.error:
            return StepStatus(StepState.ATTENTION, self.tr("Evaluation failed"))
        if self.result is None:
            return StepStatus(StepState.NOT_STARTED, self.tr("Not evaluated yet"))
        return StepStatus(StepState.READY, self.tr("Test accuracy {0}").format(_percent(self.result.get("accuracy"))))
