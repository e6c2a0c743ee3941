"""Test-time augmentation beside the plain prediction: the headline metrics of both, their difference,
and how many test images TTA fixed, broke or changed.

`TtaComparison.set_comparison(tta)` takes the "tta" part of an evaluation result.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from workbench.qt.widgets.tables import read_only_table, set_row

METRICS = (("accuracy", "Accuracy"), ("balanced_accuracy", "Balanced accuracy"), ("macro_f1", "Macro F1"),
           ("weighted_f1", "Weighted F1"), ("macro_roc_auc", "Macro ROC AUC"), ("ece", "Calibration error (ECE)"))


def _pct(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) and value == value else "–"


class TtaComparison(QWidget):
    """A table Plain | With TTA | Difference, with a sentence about the images TTA changed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ttaComparison")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self.summary = QLabel()
        self.summary.setObjectName("summary")
        self.summary.setWordWrap(True)
        self.table = read_only_table([self.tr("Metric"), self.tr("Plain"), self.tr("With TTA"), self.tr("Difference")])
        self.table.setMinimumHeight(220)
        self.views = QLabel()
        self.views.setObjectName("hint")
        self.views.setWordWrap(True)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addWidget(self.views)
        layout.addStretch(1)
        self.comparison: dict[str, Any] = {}

    def set_comparison(self, tta: dict[str, Any] | None) -> None:
        self.comparison = tta or {}
        plain, with_tta = self.comparison.get("plain", {}), self.comparison.get("tta", {})
        rows = [(key, label) for key, label in METRICS if key in plain or key in with_tta]
        self.table.setRowCount(len(rows))
        for row, (key, label) in enumerate(rows):
            a, b = plain.get(key), with_tta.get(key)
            diff = b - a if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
            better = diff is not None and ((diff > 0) != (key == "ece")) and abs(diff) > 1e-12
            set_row(self.table, row, [self.tr(label), _pct(a), _pct(b),
                                      f"{100 * diff:+.1f} pp" if diff is not None else "–"])
            if diff is not None and abs(diff) > 1e-12:
                self.table.item(row, 3).setForeground(QBrush(QColor("#2f9e6b" if better else "#c0392b")))
        if not self.comparison:
            self.summary.setText("")
            self.views.setText("")
            return
        names = ", ".join(self.comparison.get("augmentation_labels") or self.comparison.get("augmentations", []))
        self.summary.setText(self.tr(
            "Test-time augmentation with {0} ({1} views combined by {2}): fixed {3} predictions, broke {4}, "
            "changed {5} of {6} test images.").format(
            names, self.comparison.get("views", "?"), self.comparison.get("rule_label", self.comparison.get("rule", "")).lower(),
            self.comparison.get("fixed", 0), self.comparison.get("broken", 0), self.comparison.get("changed", 0),
            self.comparison.get("images", "?")))
        per_view = self.comparison.get("per_view_accuracy") or {}
        self.views.setText(self.tr("Accuracy of each view alone: {0}").format(
            ", ".join(f"{name} {_pct(value)}" for name, value in per_view.items())) if per_view else "")
