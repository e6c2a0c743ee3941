"""The Evaluate pane's number panels: headline metrics with their confidence intervals, and external validation
beside the internal test score."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from workbench.qt.eval_results import ExternalEvaluation
from workbench.qt.panes.base import group, hint
from workbench.qt.widgets.confusion_heatmap import ConfusionHeatmap
from workbench.qt.widgets.tables import read_only_table

HEADLINE = (("accuracy", "Accuracy"), ("balanced_accuracy", "Balanced accuracy"), ("macro_f1", "Macro F1"),
            ("weighted_f1", "Weighted F1"))


def percent(value: Any) -> str:
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
        self.baseline = hint("")  # every score is read against always answering the commonest class, and chance
        self.baseline.setObjectName("baselineNote")
        layout.addWidget(self.baseline)
        layout.addStretch(1)

    def set_metrics(self, metrics: dict[str, Any], caption: str = "") -> None:
        """Headline numbers, with their bootstrap 95 % intervals when the metrics carry them."""
        intervals = metrics.get("confidence_intervals") or {}
        self.interval_header.setText(self.tr("95 % CI") if intervals else "")
        self.interval_header.setToolTip(self.tr("Bootstrap confidence intervals over the test images"))
        for key, label in self.values.items():
            label.setText(percent(metrics.get(key)))
            ci = intervals.get(key) or {}
            low, high = ci.get("low"), ci.get("high")
            has_ci = isinstance(low, float) and isinstance(high, float) and low == low and high == high
            self.intervals[key].setText(f"{100 * low:.1f}–{100 * high:.1f}" if has_ci else "")
            self.intervals[key].setToolTip(self.tr("95 % bootstrap confidence interval") if has_ci else "")
        self.caption.setText(caption)
        base = metrics.get("baselines") or {}
        self.baseline.setText(self.tr("Baselines: always answering \"{0}\" scores {1} accuracy; chance balanced "
                                      "accuracy is {2}").format(base["majority_class"], percent(base["majority_accuracy"]),
                                                                percent(base["chance_balanced_accuracy"]))
                              if base.get("majority_class") is not None else "")


class ExternalPanel(QWidget):
    """External validation: metrics on a separate labelled folder, beside the stored internal test score."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(24)
        self.metrics = MetricsPanel(self.tr("External set"))
        self.comparison = QLabel()
        self.comparison.setObjectName("summary")
        self.comparison.setWordWrap(True)
        self.comparison.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.heatmap = ConfusionHeatmap()
        self.heatmap.setMinimumSize(260, 240)
        left = QVBoxLayout()
        left.addWidget(self.metrics)
        left.addWidget(self.comparison)
        left.addStretch(1)
        layout.addLayout(left, 1)
        layout.addWidget(self.heatmap, 1)

    def set_result(self, evaluation: ExternalEvaluation) -> None:
        result = evaluation.metrics
        note = self.tr("{0} images from {1}").format(evaluation.images, evaluation.source)
        self.metrics.set_metrics(result, note)
        internal = evaluation.internal_test
        lines = []
        for key, label in HEADLINE[:3]:
            if key in internal and key in result:
                lines.append(self.tr("{0}: external {1}, internal test {2} ({3:+.1f} pp)").format(
                    self.tr(label), percent(result[key]), percent(internal[key]),
                    100 * (result[key] - internal[key])))
        if not internal:
            lines.append(self.tr("The internal test set has not been evaluated yet, so there is nothing to compare."))
        if result.get("overlap_with_run"):
            lines.append("<span style='color:#b45309'>" + self.tr(
                "{0} of these images are in this run's own dataset, so this is not an independent check.").format(
                result["overlap_with_run"]) + "</span>")
        if result.get("missing_classes"):
            lines.append(self.tr("Classes with no images here: {0}").format(", ".join(result["missing_classes"])))
        self.comparison.setText("<br>".join(lines))
        self.heatmap.set_matrix(result.get("confusion_matrix", []), result.get("class_names", []))


class SummaryTab(QWidget):
    """The Summary tab: test and best-validation headline numbers, the per-class table and the confusion matrix."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.test_panel = MetricsPanel(self.tr("Test set"))
        self.val_panel = MetricsPanel(self.tr("Validation, best epoch"))
        metrics_row = QHBoxLayout()
        metrics_row.setSpacing(32)
        metrics_row.addWidget(self.test_panel, 1)
        metrics_row.addWidget(self.val_panel, 1)
        self.heatmap = ConfusionHeatmap()
        self.normalise = QCheckBox(self.tr("Show row shares (% of each true class)"))
        self.normalise.setObjectName("normaliseConfusion")
        self.class_table = read_only_table([self.tr("Class"), self.tr("Precision"), self.tr("Recall"), self.tr("F1"),
                                            self.tr("Test images")])
        self.class_table.setMinimumHeight(180)
        left = QVBoxLayout()
        left.setSpacing(14)
        left.addWidget(group(self.tr("Overall"), metrics_row))
        left.addWidget(group(self.tr("Per class (test set)"), self.class_table), 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 10, 0, 0)
        layout.setSpacing(14)
        layout.addLayout(left, 1)
        layout.addWidget(group(self.tr("Confusion matrix (test set)"), self.normalise, self.heatmap), 1)
