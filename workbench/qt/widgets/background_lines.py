"""One labelled line per diagnostic that runs beside or after training ("Checking for shortcuts: 3 of 10 classes").

The Train pane shows it under the run's progress bar, so the end of a run is never a silent wait: the run is
reported finished at once, and these lines say what the doctor still does in its helper process.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel, QWidget


class BackgroundLines(QLabel):
    """Shows the latest BackgroundProgress of each task; a task's line goes when it is done."""

    def __init__(self, runner: Any = None, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.setObjectName("backgroundProgress")
        self.lines: dict[str, str] = {}  # task -> its line
        self.hide()
        if runner is not None:  # a TrainingRunner: its background signal, and the end of its thread
            runner.background.connect(self.show_progress)
            runner.thread_finished.connect(self.clear_lines)

    def show_progress(self, event: Any) -> None:
        if event.finished:
            self.lines.pop(event.task, None)
        else:
            self.lines[event.task] = event.text if event.total else self.tr("{0} …").format(event.label)
        self.setText("\n".join(self.lines.values()))
        self.setVisible(bool(self.lines))

    def clear_lines(self) -> None:
        self.lines.clear()
        self.setText("")
        self.hide()
