"""The learning-rate finder on the Strategy pane: run the range test in the background and show its curve.

`LRFinderPanel` holds a "Find learning rate…" button with a progress bar and a Cancel button while the
test runs, then a plot of the smoothed loss against the learning rate (log axis) with the suggested and
the current rate marked, a sentence with the suggestion and a "Use …" button that sets `training.lr`
through the project model. The test itself is the engine's `find_learning_rate`, imported inside
`run_lr_finder` on the worker thread, so this module never loads torch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from workbench.qt import jobs
from workbench.qt.project_model import ProjectModel, key_affects
from workbench.qt.tasks import TaskFailure, TaskManager
from workbench.qt.widgets.curve_plot import PALETTE, CurvePlot

if TYPE_CHECKING:
    pass

TASK_KEY = "lr-finder"
DEFAULT_STEPS = 100


def format_rate(value: float) -> str:
    """A rate as people write it: 0.003 → "3e-3", 0.062 → "0.062", 1e-5 → "1e-5"."""
    if value <= 0 or not math.isfinite(value):
        return f"{value:g}"
    if value < 0.01:
        mantissa, exponent = f"{value:.1e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:.2g}"


def decade_ticks(low: float, high: float) -> list[list[tuple[float, str]]]:
    """Ticks of a log axis in view units (log10): every power of ten labelled alike ("1e-4", "0.01", "1"),
    the 2–9 multiples unlabelled, for the grid."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    major = [(float(e), format_rate(10.0**e)) for e in range(first, last + 1)]
    minor = [(math.log10(m * 10.0**e), "") for e in range(first, last) for m in range(2, 10)]
    return [major, minor]


class LRFinderPanel(QWidget):
    """The finder's button, progress, result plot and "Use" button; `applied(rate)` after the rate is set."""

    applied = Signal(float)

    def __init__(self, project: ProjectModel, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.tasks = tasks
        self.steps = DEFAULT_STEPS
        self.result: Any = None
        self._running = False
        self._training = False
        self._build()
        self.project.changed.connect(self._on_project_changed)
        self._show_idle()

    # --- building ---------------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)

        row = QHBoxLayout()
        self.find_button = QPushButton(self.tr("Find learning rate…"))
        self.find_button.setToolTip(self.tr("Train a fresh copy of the model for a few steps while the rate grows, and "
                                            "suggest a rate from the loss curve. Your settings change only if you "
                                            "click Use."))
        self.find_button.clicked.connect(self.start)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setToolTip(self.tr("Progress of the learning-rate range test"))
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.setToolTip(self.tr("Stop the learning-rate range test"))
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.find_button)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        row.addStretch(0)
        layout.addLayout(row)

        self.status_label = QLabel()
        self.status_label.setObjectName("hint")
        self.status_label.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setObjectName("fieldError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status_label)
        layout.addWidget(self.error_label)

        self.result_box = QWidget()
        box = QVBoxLayout(self.result_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(6)
        self.plot = CurvePlot(self.tr("Loss by learning rate"), self.tr("smoothed loss"), self.tr("learning rate (log scale)"),
                              show_legend=False)
        self.plot.setMinimumHeight(220)
        self.plot.setMaximumHeight(280)  # a readable curve without making the whole row very tall
        self.plot.add_series("loss", self.tr("smoothed loss"), "blue", width=2.0)
        self.plot.getPlotItem().setLogMode(x=True, y=False)
        # Lines sit in view coordinates, which on a log axis are log10 of the rate.
        self.suggested_line = pg.InfiniteLine(angle=90, movable=False, label="",
                                              pen=pg.mkPen(PALETTE["green"], width=2, style=Qt.PenStyle.DashLine),
                                              labelOpts={"position": 0.92, "color": PALETTE["green"]})
        self.current_line = pg.InfiniteLine(angle=90, movable=False, label="",
                                            pen=pg.mkPen(PALETTE["red"], width=1.5, style=Qt.PenStyle.DotLine),
                                            labelOpts={"position": 0.08, "color": PALETTE["red"]})
        self.plot.addItem(self.suggested_line, ignoreBounds=True)
        self.plot.addItem(self.current_line, ignoreBounds=True)
        self.suggestion_label = QLabel()
        self.suggestion_label.setObjectName("summary")
        self.suggestion_label.setWordWrap(True)
        self.use_button = QPushButton(self.tr("Use the suggestion"))  # the rate joins the text once known
        self.use_button.setToolTip(self.tr("Set the suggested learning rate"))
        self.use_button.setObjectName("primary")
        self.use_button.clicked.connect(self.use_suggestion)
        use_row = QHBoxLayout()
        use_row.addWidget(self.use_button)
        use_row.addStretch(1)
        box.addWidget(self.plot)
        box.addWidget(self.suggestion_label)
        box.addLayout(use_row)
        layout.addWidget(self.result_box)
        self.result_box.hide()

    # --- running ----------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        """Run the range test on the project's current settings (in the background)."""
        config = self.project.effective_config()
        if not config.data.source.strip():
            self._show_error(self.tr("Choose a dataset in the Data step first."))
            return
        self._running = True
        self.error_label.clear()
        self.progress.setRange(0, 0)  # busy until the first report says how much there is
        self.progress.setFormat(self.tr("Starting…"))
        self.status_label.setText(self.tr("Training a fresh copy of the model at growing rates; your settings are not "
                                          "changed."))
        self._update_controls()
        self.tasks.submit(TASK_KEY, jobs.run_lr_finder, config, self.steps, label=self.tr("Finding a learning rate"),
                          on_result=self._on_result, on_error=self._on_error, on_progress=self._on_progress,
                          expected=(Exception,))

    def cancel(self) -> None:
        """Stop the test; its worker sees `should_stop` at the next step and its result is dropped."""
        if not self._running:
            return
        self.tasks.cancel(TASK_KEY)
        self._running = False
        self._show_idle(self.tr("Cancelled; nothing was changed."))

    def set_training(self, running: bool) -> None:
        """While a training runs, the finder would compete with it for the device: it waits."""
        self._training = running
        self._update_controls()

    # --- results ----------------------------------------------------------------------------------

    def _on_progress(self, done: int, total: int, message: str) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        self.progress.setFormat(f"{message} %v/%m" if total > 0 else message)

    def _on_result(self, result: Any) -> None:
        self._running = False
        self.result = result
        lrs, losses = np.asarray(result.lrs, dtype=float), np.asarray(result.losses, dtype=float)
        self.plot.set_series("loss", lrs, losses)
        self.plot.getPlotItem().enableAutoRange()
        self.plot.getAxis("bottom").setTicks(decade_ticks(float(lrs[0]), float(lrs[-1])))
        self.suggested_line.setValue(math.log10(result.suggested))
        self.suggested_line.label.setFormat(self.tr("suggested {0}").format(format_rate(result.suggested)))
        # Labels get the plot's own background (light or dark theme), so they stay readable across lines.
        fill = self.plot.backgroundBrush().color()
        fill.setAlpha(210)
        for line in (self.suggested_line, self.current_line):
            line.label.fill = pg.mkBrush(fill)
        self._place_label(self.suggested_line, result.suggested, top=True)
        self._show_current()
        self.result_box.show()
        self._show_idle(self.tr("Tested {0} rates from {1} to {2}, training the {3:,} parameters that follow the "
                                "learning rate in this strategy.").format(
            len(lrs), format_rate(float(lrs[0])), format_rate(float(lrs[-1])), int(result.trained_parameters)))

    def _on_error(self, failure: TaskFailure) -> None:
        self._running = False
        message = failure.message
        if "no dataset" in message:  # the engine's DatasetError when data.source is empty
            self._show_error(self.tr("Choose a dataset in the Data step first."))
        else:
            self._show_error(self.tr("The learning-rate test could not run: {0}").format(message))

    def use_suggestion(self) -> None:
        """Set the suggested rate, through the project model like any other edit (undoable by editing back)."""
        if self.result is None:
            return
        value = float(self.result.suggested)
        error = self.project.update("training.lr", value)
        if error:
            self._show_error(error)
            return
        self._show_idle(self.tr("The learning rate is now {0}.").format(format_rate(value)))
        self.applied.emit(value)

    # --- showing ----------------------------------------------------------------------------------

    def _on_project_changed(self, key: str) -> None:
        if key_affects(key, "training.lr") and self.result is not None:
            self._show_current()
            self._update_controls()

    def _show_current(self) -> None:
        """Move the current-rate line and rewrite the sentence (the rate may have been edited since the test)."""
        current = float(self.project.config.training.lr)
        self.current_line.setValue(math.log10(current))
        self.current_line.label.setFormat(self.tr("current {0}").format(format_rate(current)))
        self._place_label(self.current_line, current, top=False)
        self.suggestion_label.setText(self.suggestion_text())

    def _place_label(self, line: pg.InfiniteLine, rate: float, top: bool) -> None:
        """Write a line's label on the side with room: left of the line in the right part of the plot, else right."""
        lrs = self.result.lrs
        low, high = math.log10(float(lrs[0])), math.log10(float(lrs[-1]))
        share = (math.log10(rate) - low) / (high - low) if high > low else 0.0
        anchor = (1.0 if share > 0.6 else 0.0, 0.0 if top else 1.0)
        line.label.anchors = [anchor, anchor]
        line.label.updatePosition()

    def suggestion_text(self) -> str:
        """One sentence: the suggestion, why, and how the current rate compares."""
        if self.result is None:
            return ""
        suggested = float(self.result.suggested)
        current = float(self.project.config.training.lr)
        ratio = current / suggested
        if 0.2 <= ratio <= 5:
            verdict = self.tr("close to it")
        elif ratio > 5:
            verdict = self.tr("{0:.0f}× higher, likely too high").format(ratio)
        else:
            verdict = self.tr("about 1/{0:.0f} of it, likely too low").format(1 / ratio)
        return self.tr("Suggested learning rate: <b>{0}</b>, a tenth of the rate where the loss was lowest: the loss "
                       "still falls well there and has not started to rise. The current rate, {1}, is {2}.").format(
            format_rate(suggested), format_rate(current), verdict)

    def _show_idle(self, status: str | None = None) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        if status is None:
            status = self.tr("Tries rates from 1e-6 to 1 in {0} short training steps and suggests one; nothing changes "
                             "until you click Use.").format(self.steps)
        self.status_label.setText(status)
        self._update_controls()

    def _show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self._show_idle("")

    def _update_controls(self) -> None:
        self.find_button.setEnabled(not self._running and not self._training)
        self.find_button.setToolTip(self.tr("Wait for the training to finish first.") if self._training else self.tr(
            "Train a fresh copy of the model for a few steps while the rate grows, and suggest a rate from the loss "
            "curve. Your settings change only if you click Use."))
        self.progress.setVisible(self._running)
        self.cancel_button.setVisible(self._running)
        self.status_label.setVisible(bool(self.status_label.text()))
        self.error_label.setVisible(bool(self.error_label.text()))
        if self.result is not None:
            suggested = float(self.result.suggested)
            self.use_button.setText(self.tr("Use {0}").format(format_rate(suggested)))
            same = math.isclose(self.project.config.training.lr, suggested, rel_tol=1e-9)
            self.use_button.setEnabled(not same)
            self.use_button.setToolTip(self.tr("The learning rate is already {0}.").format(format_rate(suggested)) if same
                                       else self.tr("Set the learning rate (Optimisation) to {0}.").format(format_rate(suggested)))
