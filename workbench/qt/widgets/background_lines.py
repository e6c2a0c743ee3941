"""One labelled entry per diagnostic that runs beside or after training ("Checking for shortcuts: 3 of 10 classes").

The Train pane shows it under the run's progress bar, so the end of a run is never a silent wait: the run is
reported finished at once, and these entries say what the doctor still does in its helper process.

The entries share one line of a fixed height that is always there (empty while nothing runs): a line that
appeared, disappeared or grew with each task would re-lay out the pane, and every re-layout resizes and repaints
all of its plots on the GUI thread (about 100 ms, a visible freeze).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

SEPARATOR = "   ·   "


class BackgroundLines(QLabel):
    """Shows the latest BackgroundProgress of each task, side by side on one line; a task's entry goes when it is done."""

    def __init__(self, runner: Any = None, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.setObjectName("backgroundProgress")
        self.lines: dict[str, str] = {}  # task -> its entry
        # Its text never changes the layout: a fixed height, and no width of its own (long text is cut off; the
        # tooltip has every entry).
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(self.fontMetrics().lineSpacing() + 2)
        if runner is not None:  # a TrainingRunner: its background signal, and the end of its thread
            runner.background.connect(self.show_progress)
            runner.thread_finished.connect(self.clear_lines)

    def show_progress(self, event: Any) -> None:
        if event.finished:
            self.lines.pop(event.task, None)
        else:
            self.lines[event.task] = event.text if event.total else self.tr("{0} …").format(event.label)
        self._show()

    def clear_lines(self) -> None:
        self.lines.clear()
        self._show()

    def _show(self) -> None:
        self.setText(SEPARATOR.join(self.lines.values()))
        self.setToolTip("\n".join(self.lines.values()))
