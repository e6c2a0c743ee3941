"""The Train pane's controls and log: the run buttons with the phase label and progress line, and the run log.

Plain widgets with no behaviour of their own; the Train pane connects the buttons and fills the labels.
"""

from __future__ import annotations

import time

from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)


class RunControls(QWidget):
    """Start, cross-validate, pause, resume and stop; the phase in words; a labelled progress line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.start_button = QPushButton(self.tr("Start training"))
        self.start_button.setObjectName("primary")
        self.start_button.setShortcut("Ctrl+R")
        self.kfold_button = QPushButton()
        self.kfold_button.setObjectName("kfoldButton")
        self.pause_button = QPushButton(self.tr("Pause"))
        self.resume_button = QPushButton(self.tr("Resume"))
        self.stop_button = QPushButton(self.tr("Stop"))
        self.stop_button.setObjectName("danger")
        self.phase_label = QLabel(self.tr("Not started"))
        self.phase_label.setObjectName("phaseLabel")
        # No word wrap: the labels beside it change every batch, and a wrapping label would make each change
        # re-run the pane's height-for-width layout on the GUI thread.
        self.phase_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.kfold_button, self.pause_button, self.resume_button, self.stop_button):
            buttons.addWidget(button)
        buttons.addSpacing(16)
        buttons.addWidget(self.phase_label, 1)

        self.progress = QProgressBar()
        self.progress.setObjectName("trainProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat(self.tr("Waiting to start"))
        self.progress.setTextVisible(True)
        self.speed_label = QLabel("")
        self.speed_label.setObjectName("summary")
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 3)
        progress_row.addWidget(self.speed_label, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addLayout(progress_row)


class RunLog(QWidget):
    """A titled, read-only, fixed-width log of the run, capped at 5,000 lines."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = QPlainTextEdit()
        self.view.setObjectName("runLog")
        self.view.setReadOnly(True)
        self.view.setMaximumBlockCount(5000)
        self.view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        title = QLabel(self.tr("Log"))
        title.setObjectName("plotTitle")
        font = QFont(title.font())
        font.setBold(True)
        title.setFont(font)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(title)
        layout.addWidget(self.view, 1)

    def append(self, message: str, level: str = "info") -> None:
        marker = {"warning": " ⚠", "error": " ✖", "problem": " ✖"}.get(level, "")
        self.view.appendPlainText(f"{time.strftime('%H:%M:%S')}{marker} {message}")
