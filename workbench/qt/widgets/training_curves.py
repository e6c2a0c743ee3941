"""The Train pane's three curve plots (loss, accuracy, learning rate), fed live or from a stored history.

Live events and a finished run's stored history go through the same `add_epoch`, so the six per-epoch
series are appended in one place and a stored run looks exactly as it did while it trained.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtWidgets import QGridLayout, QWidget

from workbench.qt.widgets.curve_plot import CurvePlot


class TrainingCurves(QWidget):
    """Loss and accuracy side by side, the learning rate below the loss; `corner` takes the fourth cell."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = CurvePlot(self.tr("Loss"), self.tr("cross-entropy"))
        self.loss_plot.add_series("train_batch", self.tr("training (per batch)"), "#b9c8f5", width=1.2)
        self.loss_plot.add_series("train", self.tr("training"), "blue", symbol="o")
        self.loss_plot.add_series("val", self.tr("validation"), "orange", symbol="s")
        self.loss_plot.add_series("pretrain", self.tr("pretraining (self-supervised)"), "purple", symbol="d",
                                  dashed=True)
        self.acc_plot = CurvePlot(self.tr("Accuracy"), self.tr("accuracy"))
        self.acc_plot.add_series("train", self.tr("training"), "blue", symbol="o")
        self.acc_plot.add_series("val", self.tr("validation"), "orange", symbol="s")
        self.acc_plot.add_series("val_balanced", self.tr("validation (balanced)"), "green", symbol="t", dashed=True)
        self.acc_plot.add_series("data_share", self.tr("share of training data in use"), "#9aa5b1", symbol="x",
                                 dashed=True)
        self.acc_plot.getPlotItem().setYRange(0, 1.02, padding=0)
        self.lr_plot = CurvePlot(self.tr("Learning rate"), self.tr("learning rate"), show_legend=False)
        self.lr_plot.add_series("batch", self.tr("per batch"), "purple", width=1.5)
        self.lr_plot.add_series("epoch", self.tr("end of epoch"), "purple", symbol="o", width=0.5)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(12)
        self.grid.setVerticalSpacing(12)
        self.grid.addWidget(self.loss_plot, 0, 0)
        self.grid.addWidget(self.acc_plot, 0, 1)
        self.grid.addWidget(self.lr_plot, 1, 0)
        self.grid.setColumnStretch(0, 1)
        self.grid.setColumnStretch(1, 1)
        self.grid.setRowMinimumHeight(0, 250)
        self.grid.setRowMinimumHeight(1, 220)

    @property
    def plots(self) -> tuple[CurvePlot, CurvePlot, CurvePlot]:
        return self.loss_plot, self.acc_plot, self.lr_plot

    def set_corner(self, widget: QWidget) -> None:
        """Place `widget` (the Train pane's log) beside the learning-rate plot."""
        self.grid.addWidget(widget, 1, 1)

    # --- data -------------------------------------------------------------------------------------

    def add_batch(self, x: float, loss: float, lr: float) -> None:
        """A supervised batch at fractional epoch `x`."""
        self.loss_plot.append("train_batch", x, loss)
        self.lr_plot.append("batch", x, lr)

    def add_epoch(self, epoch: int, metrics: Mapping[str, Any]) -> None:
        """One supervised epoch: `metrics` has train_loss, val_loss, train_accuracy, accuracy, balanced_accuracy
        and lr (the keys of a stored history row); a missing value is left out of its curve."""
        def value(key: str) -> float:
            v = metrics.get(key, math.nan)
            return float(v) if isinstance(v, (int, float)) else math.nan

        self.loss_plot.append("train", epoch, value("train_loss"))
        self.loss_plot.append("val", epoch, value("val_loss"))
        self.acc_plot.append("train", epoch, value("train_accuracy"))
        self.acc_plot.append("val", epoch, value("accuracy"))
        self.acc_plot.append("val_balanced", epoch, value("balanced_accuracy"))
        self.lr_plot.append("epoch", epoch, value("lr"))

    def add_pretrain_epoch(self, epoch: int, loss: float) -> None:
        self.loss_plot.append("pretrain", epoch, loss)

    def add_data_share(self, epoch: int, share: float) -> None:
        """Curriculum learning's pacing; drawn only once a share below 1 has been seen."""
        if share < 1.0 or self.acc_plot.series_length("data_share"):
            self.acc_plot.append("data_share", epoch, share)

    def show_history(self, history: Iterable[Mapping[str, Any]]) -> int:
        """Replace the curves with a stored run's per-epoch rows; returns the number of epochs shown."""
        self.clear()
        rows = [row for row in history if isinstance(row.get("epoch"), (int, float))]
        for row in rows:
            self.add_epoch(row["epoch"], row)
        if rows:
            self.set_x_span(0, max(max(row["epoch"] for row in rows), 1))
        return len(rows)

    def set_x_span(self, low: float, high: float) -> None:
        for plot in self.plots:
            plot.set_x_span(low, high)

    def epochs_shown(self) -> int:
        return self.loss_plot.series_length("val")

    def clear(self) -> None:
        for plot in self.plots:
            plot.clear_data()
