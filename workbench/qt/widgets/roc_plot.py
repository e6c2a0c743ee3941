"""One-vs-rest ROC and precision-recall curves, one line per class, with the area under each in the legend.

`RocPrPlots.set_curves(curves)` takes the "curves" part of an evaluation result
(`{"per_class": {name: {"fpr", "tpr", "recall", "precision", "roc_auc", "average_precision"}}, ...}`).
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QWidget

from workbench.qt.plot_theme import ThemedPlotWidget, configure_pyqtgraph, legend_below

CLASS_COLOURS = ("#2563eb", "#ea7a1a", "#2f9e6b", "#7c3aed", "#d14343", "#0891b2", "#a16207", "#db2777",
                 "#4b5563", "#65a30d")


def class_colour(index: int) -> str:
    return CLASS_COLOURS[index % len(CLASS_COLOURS)]


def make_plot(title: str, x_label: str, y_label: str) -> pg.PlotWidget:
    """A light, square-ish plot on [0, 1] × [0, 1] with a title, axis labels and a legend below the axes (outside
    the data area, so it never covers a curve)."""
    configure_pyqtgraph()
    plot = ThemedPlotWidget(enableMenu=False)
    plot.setMinimumSize(300, 280)
    item = plot.getPlotItem()
    item.setTitle(f"<span style='font-size:11pt; font-weight:600; color:#1f2933'>{title}</span>")
    item.setLabel("bottom", x_label)
    item.setLabel("left", y_label)
    item.showGrid(x=True, y=True, alpha=0.15)
    item.setXRange(0, 1, padding=0.02)
    item.setYRange(0, 1.02, padding=0.02)
    item.setMouseEnabled(x=False, y=False)
    item.hideButtons()
    legend_below(item)
    return plot


class RocPrPlots(QWidget):
    """The ROC plot beside the precision-recall plot."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rocPrPlots")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(14)
        self.roc = make_plot(self.tr("ROC (one class vs the rest)"), self.tr("False positive rate"),
                             self.tr("True positive rate"))
        self.pr = make_plot(self.tr("Precision–recall"), self.tr("Recall"), self.tr("Precision"))
        layout.addWidget(self.roc, 1)
        layout.addWidget(self.pr, 1)
        self.auc: dict[str, float] = {}

    def clear(self) -> None:
        for plot in (self.roc, self.pr):
            plot.getPlotItem().clear()
            plot.getPlotItem().legend.clear()
        self.auc = {}

    def set_curves(self, curves: dict[str, Any] | None) -> None:
        self.clear()
        per_class = (curves or {}).get("per_class") or {}
        chance = pg.mkPen("#9aa5b1", width=1, style=Qt.PenStyle.DashLine)
        self.roc.getPlotItem().plot([0, 1], [0, 1], pen=chance)
        for i, (name, curve) in enumerate(per_class.items()):
            pen = pg.mkPen(class_colour(i), width=2)
            self.auc[name] = float(curve.get("roc_auc", float("nan")))
            self.roc.getPlotItem().plot(curve["fpr"], curve["tpr"], pen=pen,
                                        name=f"{name}  AUC {curve.get('roc_auc', float('nan')):.3f}")
            self.pr.getPlotItem().plot(curve["recall"], curve["precision"], pen=pen,
                                       name=f"{name}  AP {curve.get('average_precision', float('nan')):.3f}")
