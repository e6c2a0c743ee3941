"""The live feature projection (checklist item 5, section II-A): a scatter coloured by class, per epoch.

`ProjectionView` keeps every `ProjectionReady` it receives (a later, final projection of an epoch replaces
a partial one), shows the one chosen with the epoch slider, and plots the separability scores (kNN
accuracy, silhouette) over the epochs. Hovering a point shows the image's thumbnail and its label: each
projection lists the split.csv row of every point (`ProjectionReady.indices`; `set_samples` takes the rows),
so a subsampled projection still finds its images. A point whose label does not match its row is shown
without a thumbnail rather than with a wrong one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider, QToolTip, QVBoxLayout, QWidget

from workbench.qt.plot_theme import configure_pyqtgraph, legend_below
from workbench.qt.widgets.curve_plot import StaggeredPlotWidget

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd")
SCORE_COLOURS = ("#2563eb", "#b45309", "#15803d", "#7c3aed")
SCORE_KEYS = ("knn_accuracy", "silhouette")  # the separability scores plotted over the epochs
THUMB = 72


def class_colour(index: int) -> QColor:
    return QColor(PALETTE[index % len(PALETTE)])


class ProjectionView(QWidget):
    """Scatter of the projected validation features, an epoch slider, and the separability over epochs."""

    epoch_shown = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("projectionView")
        self.projections: list[Any] = []  # ProjectionReady, one per epoch, ordered by epoch
        self.class_names: list[str] = []
        self.samples: list[tuple[str, str, str]] = []  # (path, label, split) of every row of the run's split.csv
        self._thumbs: dict[str, QPixmap] = {}
        self._brushes: dict[int, Any] = {}
        self._validation: list[tuple[str, str, str]] = []
        self.current = -1
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.title = QLabel(self.tr("Feature projection (validation images)"))
        self.title.setObjectName("plotTitle")
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        layout.addWidget(self.title)
        # Under the title, while there is none yet: when the first projection comes (in view at once, unlike the
        # epoch label below the scatter).
        self.waiting = QLabel(self.tr("No projection yet"))
        self.waiting.setObjectName("hint")
        self.waiting.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # no wrap: see legend
        layout.addWidget(self.waiting)
        configure_pyqtgraph()
        self.plot = StaggeredPlotWidget()
        self.plot.setObjectName("projectionPlot")
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.setMenuEnabled(False)
        self.plot.setToolTip(self.tr("Each dot is a validation image, placed by what the network has learned; colours "
                                     "are classes. Hover a dot to see the image."))
        self.scatter = pg.ScatterPlotItem(size=7, pen=pg.mkPen(None), hoverable=True, hoverSize=11,
                                          hoverPen=pg.mkPen("k", width=1.5))
        self.scatter.sigHovered.connect(self._on_hover)
        self.plot.addItem(self.scatter)
        self.plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        self.plot.setMinimumHeight(160)
        layout.addWidget(self.plot, 3)
        self.legend = QLabel()
        self.legend.setObjectName("projectionLegend")
        # No word wrap: a wrapping label makes the whole Train grid size itself by height-for-width, too tall.
        self.legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.legend)
        row = QHBoxLayout()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("projectionEpoch")
        self.slider.setRange(0, 0)
        self.slider.setEnabled(False)
        self.slider.setToolTip(self.tr("Step through the epochs to watch the classes separate"))
        self.slider.valueChanged.connect(self.show_index)
        self.epoch_label = QLabel(self.tr("No projection yet"))
        self.epoch_label.setObjectName("summary")
        row.addWidget(self.slider, 1)
        row.addWidget(self.epoch_label)
        layout.addLayout(row)
        self.scores_label = QLabel("")
        self.scores_label.setObjectName("summary")
        self.scores_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.scores_label)
        self.score_plot = StaggeredPlotWidget()
        self.score_plot.setObjectName("separabilityPlot")
        self.score_plot.setMaximumHeight(160)  # room for the legend under the axis
        self.score_plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        self.score_plot.setMinimumHeight(90)
        self.score_plot.setMenuEnabled(False)
        self.score_plot.setLabel("bottom", self.tr("epoch"))
        self.score_plot.setYRange(-0.2, 1.0, padding=0.02)
        self.score_plot.setToolTip(self.tr("Separability of the classes in the projection: kNN accuracy (how often a "
                                           "point's neighbours share its class) and silhouette (−1 to 1)"))
        self.score_legend = legend_below(self.score_plot.getPlotItem(), 2)  # one row under the axis, off the lines
        self._score_curves: dict[str, pg.PlotDataItem] = {}
        layout.addWidget(self.score_plot, 1)

    # --- data -------------------------------------------------------------------------------------

    def set_class_names(self, names: list[str]) -> None:
        self.class_names = list(names)

    def set_samples(self, samples: list[tuple[str, str, str]]) -> None:
        """The run's images as (path, label, split), in split.csv order: the rows projections point into."""
        self.samples = list(samples)
        self._validation = [row for row in self.samples if row[2] == "val"]
        self._thumbs.clear()

    def clear(self) -> None:
        self.projections.clear()
        self.current = -1
        self.scatter.clear()
        self.legend.setText("")
        for curve in self._score_curves.values():
            self.score_plot.removeItem(curve)
        self._score_curves.clear()
        self.score_legend.clear()
        self.slider.blockSignals(True)
        self.slider.setRange(0, 0)
        self.slider.blockSignals(False)
        self.slider.setEnabled(False)
        self.epoch_label.setText(self.tr("No projection yet"))
        self.waiting.setText(self.tr("No projection yet"))
        self.waiting.show()
        self.scores_label.setText("")

    def set_waiting(self, text: str) -> None:
        """What the empty panel says until the first projection arrives (when it will come)."""
        self.waiting.setText(text)
        if not self.projections:
            self.epoch_label.setText(text)

    def add(self, event: Any) -> None:
        """A ProjectionReady: replaces the projection of the same epoch, else is inserted in epoch order."""
        self.waiting.hide()
        at_end = self.current == len(self.projections) - 1
        epochs = [p.epoch for p in self.projections]
        if event.epoch in epochs:
            index = epochs.index(event.epoch)
            self.projections[index] = event
        else:
            index = int(np.searchsorted(epochs, event.epoch))
            self.projections.insert(index, event)
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self.projections) - 1)
        self.slider.blockSignals(False)
        self.slider.setEnabled(len(self.projections) > 1)
        self._update_scores()
        if at_end or self.current < 0:
            self.slider.setValue(len(self.projections) - 1)
            self.show_index(len(self.projections) - 1)
        elif index == self.current:
            self.show_index(index)

    def show_index(self, index: int) -> None:
        if not 0 <= index < len(self.projections):
            return
        self.current = index
        if self.slider.value() != index:
            self.slider.blockSignals(True)
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        event = self.projections[index]
        points = np.asarray(event.points, dtype=float).reshape(-1, 2)
        labels = np.asarray(event.labels, dtype=int)
        brushes = [self._brush(int(c)) for c in labels]
        self.scatter.setData(pos=points, brush=brushes, data=np.arange(len(points)))
        names = sorted(set(labels.tolist()))[:32]
        self.legend.setText(" ".join(f"<span style='color:{class_colour(c).name()}'>●</span>{self._name(c)}" for c in names))
        self.legend.setToolTip("\n".join(self._name(c) for c in names))
        scores = ", ".join(f"{k.replace('_', ' ')} {event.scores[k]:.2f}" for k in SCORE_KEYS
                           if event.scores.get(k) is not None)
        state = self.tr(" (in progress)") if event.partial else ""
        self.epoch_label.setText(self.tr("Epoch {0}, {1}{2}").format(event.epoch, event.method, state))
        self.epoch_label.setToolTip(scores)
        self.scores_label.setText(scores)
        self.epoch_shown.emit(event.epoch)

    def _brush(self, index: int) -> Any:
        """One brush per class, made once: a layout of 2,000 points would otherwise make 2,000 on the GUI thread."""
        brush = self._brushes.get(index)
        if brush is None:
            brush = self._brushes[index] = pg.mkBrush(class_colour(index))
        return brush

    def _name(self, index: int) -> str:
        return self.class_names[index] if 0 <= index < len(self.class_names) else str(index)

    def _update_scores(self) -> None:
        keys = [k for k in SCORE_KEYS if any(p.scores.get(k) is not None for p in self.projections)]
        for i, key in enumerate(keys):
            xs = [p.epoch for p in self.projections if p.scores.get(key) is not None]
            ys = [float(p.scores[key]) for p in self.projections if p.scores.get(key) is not None]
            curve = self._score_curves.get(key)
            if curve is None:
                colour = SCORE_COLOURS[i % len(SCORE_COLOURS)]
                curve = self.score_plot.plot([], [], pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=5,
                                             symbolBrush=colour, name=key.replace("_", " "))
                self._score_curves[key] = curve
            curve.setData(xs, ys)

    # --- hovering ---------------------------------------------------------------------------------

    def sample_of(self, point: int) -> tuple[str, str] | None:
        """(path, label) of a point, when the split's validation rows line up with the projection."""
        if self.current < 0:
            return None
        event = self.projections[self.current]
        if not 0 <= point < len(event.labels):
            return None
        if event.indices:  # the split.csv row of each point
            row = event.indices[point] if point < len(event.indices) else -1
            if not 0 <= row < len(self.samples):
                return None
            path, label, _ = self.samples[row]
        else:  # older runs: the points are every validation image, in split.csv order
            if len(event.labels) != len(self._validation):
                return None
            path, label, _ = self._validation[point]
        if self.class_names and label != self._name(int(event.labels[point])):
            return None
        return path, label

    def hover_text(self, point: int) -> str:
        """Rich text for a hovered point: thumbnail (when known) and label."""
        event = self.projections[self.current]
        label = self._name(int(event.labels[point]))
        sample = self.sample_of(point)
        if sample is None:
            return self.tr("class: {0}").format(label)
        path = sample[0]
        return (f"<img src='{Path(path).as_posix()}' width={THUMB} height={THUMB}><br>"
                + self.tr("class: {0}<br>{1}").format(label, Path(path).name))

    def _on_hover(self, _item: Any, points: Any, event: Any) -> None:
        if len(points) == 0 or self.current < 0:
            QToolTip.hideText()
            return
        index = int(points[0].data())
        pos = event.screenPos() if hasattr(event, "screenPos") else None
        where = QPoint(int(pos.x()), int(pos.y())) if pos is not None else self.plot.mapToGlobal(QPoint(0, 0))
        QToolTip.showText(where, self.hover_text(index), self.plot)
