"""The robustness check: how much the score drops when the test images are perturbed, per perturbation
and strength, with the rows flagged when a mild perturbation already costs more than the threshold.

`RobustnessView.set_table(table)` takes the engine's robustness table
(`{"metric", "threshold", "clean", "rows": [{"label", "level", "setting", "drop", "flagged", ...}], "summary"}`).
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from workbench.qt.widgets.roc_plot import class_colour, make_plot
from workbench.qt.widgets.tables import read_only_table, set_row


class RobustnessView(QWidget):
    """A plot of the drop against strength (one line per perturbation) beside the full table."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("robustnessView")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(8)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setObjectName("summary")
        outer.addWidget(self.summary)
        row = QHBoxLayout()
        row.setSpacing(14)
        self.plot = make_plot(self.tr("Drop against the clean score"), self.tr("Strength (1 = mild)"),
                              self.tr("Drop (percentage points)"))
        self.plot.getPlotItem().legend.setColumnCount(2)
        self.table = read_only_table([self.tr("Perturbation"), self.tr("Setting"), self.tr("Accuracy"),
                                      self.tr("Balanced acc."), self.tr("Drop"), self.tr("Flag")])
        self.table.setMinimumHeight(280)
        row.addWidget(self.plot, 1)
        row.addWidget(self.table, 1)
        outer.addLayout(row, 1)
        self.rows: list[dict[str, Any]] = []

    def clear(self) -> None:
        self.plot.getPlotItem().clear()
        self.plot.getPlotItem().legend.clear()
        self.table.setRowCount(0)
        self.summary.setText("")
        self.rows = []

    def set_table(self, table: dict[str, Any] | None) -> None:
        self.clear()
        table = table or {}
        self.rows = list(table.get("rows", []))
        flagged = table.get("flagged") or []
        text = table.get("summary", "")
        colour = "#b45309" if flagged else "#2f9e6b"
        self.summary.setText(f"<span style='color:{colour}; font-weight:600'>{text}</span>" if text else "")
        item = self.plot.getPlotItem()
        threshold = float(table.get("threshold", 0.0)) * 100
        levels = max((int(r.get("level", 1)) for r in self.rows), default=3)
        item.setXRange(0.8, levels + 0.2, padding=0)
        if threshold:
            item.addItem(pg.InfiniteLine(threshold, angle=0, pen=pg.mkPen("#d14343", width=1,
                                                                           style=Qt.PenStyle.DashLine),
                                         label=self.tr("flag threshold"), labelOpts={"position": 0.85,
                                                                                    "color": "#d14343"}))
        names = list(dict.fromkeys(r["label"] for r in self.rows))
        for i, name in enumerate(names):
            rows = [r for r in self.rows if r["label"] == name]
            xs = [int(r["level"]) for r in rows]
            ys = [100 * float(r["drop"]) for r in rows]
            brushes = ["#d14343" if r["flagged"] else class_colour(i) for r in rows]
            item.plot(xs, ys, pen=pg.mkPen(class_colour(i), width=2), symbol="o", symbolSize=7,
                      symbolBrush=brushes, symbolPen=None, name=name)
        if self.rows:  # the threshold line stays in view (the legend sits below the axes)
            top = max(max(100 * float(r["drop"]) for r in self.rows), threshold, 1.0)
            low = min(min(100 * float(r["drop"]) for r in self.rows), 0.0)
            item.setYRange(low - 1, top * 1.1, padding=0)
        self.table.setRowCount(len(self.rows))
        for row, r in enumerate(self.rows):
            set_row(self.table, row, [r["label"], r.get("setting", ""), f"{r['accuracy']:.1%}",
                                      f"{r['balanced_accuracy']:.1%}", f"{100 * r['drop']:+.1f} pp",
                                      self.tr("large drop") if r["flagged"] else ""])
            if r["flagged"]:
                for column in range(self.table.columnCount()):
                    self.table.item(row, column).setForeground(QBrush(QColor("#b45309")))
