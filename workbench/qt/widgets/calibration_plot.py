"""Reliability diagram: accuracy per confidence bin as bars, against the diagonal of perfect calibration.

Each bar is labelled with its number of test images, so a bar resting on two images is not read like one
resting on two hundred. `ReliabilityPlot.set_calibration(calibration)` takes the evaluation result's "calibration" part
(`{"ece", "mce", "bins": [{"lower", "upper", "count", "accuracy", "confidence"}]}`).
"""

from __future__ import annotations

import math
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from workbench.qt.widgets.roc_plot import make_plot


class ReliabilityPlot(QWidget):
    """The diagram with a one-line reading of the expected calibration error underneath."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reliabilityPlot")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.plot = make_plot(self.tr("Reliability diagram"), self.tr("Confidence of the predicted class"),
                              self.tr("Accuracy"))
        self.summary = QLabel()
        self.summary.setObjectName("hint")
        self.summary.setWordWrap(True)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.summary)
        self.ece = float("nan")
        self.count_labels: list[pg.TextItem] = []

    def clear(self) -> None:
        self.plot.getPlotItem().clear()
        self.plot.getPlotItem().legend.clear()
        self.summary.setText("")
        self.ece = float("nan")
        self.count_labels: list[pg.TextItem] = []

    def set_calibration(self, calibration: dict[str, Any] | None) -> None:
        self.clear()
        calibration = calibration or {}
        bins = [b for b in calibration.get("bins", []) if b.get("count")]
        item = self.plot.getPlotItem()
        item.plot([0, 1], [0, 1], pen=pg.mkPen("#9aa5b1", width=1, style=Qt.PenStyle.DashLine),
                  name=self.tr("perfect calibration"))
        if bins:
            centres = [(b["lower"] + b["upper"]) / 2 for b in bins]
            widths = [0.9 * (b["upper"] - b["lower"]) for b in bins]
            bars = pg.BarGraphItem(x=centres, height=[b["accuracy"] for b in bins], width=widths,
                                   brush=pg.mkBrush(37, 99, 235, 150), pen=pg.mkPen("#1d4ed8", width=1),
                                   name=self.tr("accuracy in bin"))
            item.addItem(bars)  # named items join the legend by themselves
            item.plot(centres, [b["confidence"] for b in bins], pen=None, symbol="o", symbolSize=6,
                      symbolBrush="#ea7a1a", symbolPen=None, name=self.tr("mean confidence"))
            for centre, b in zip(centres, bins, strict=True):  # how many test images each bar rests on
                label = pg.TextItem(f"n={int(b['count'])}", color="#3b4754", anchor=(0.5, 1.0))
                label.setPos(centre, min(float(b["accuracy"]), 0.93) + 0.01)
                item.addItem(label)
                self.count_labels.append(label)
        self.ece = float(calibration.get("ece", float("nan")))
        if not math.isnan(self.ece):
            self.summary.setText(self.tr(
                "Expected calibration error (ECE) {0:.1%}, largest gap {1:.1%}. Bars below the diagonal: the model is "
                "over-confident in that range; above it: under-confident.").format(
                self.ece, float(calibration.get("mce", float("nan")))))
