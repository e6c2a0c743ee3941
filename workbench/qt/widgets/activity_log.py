"""The application's activity log: every notice, warning and error, with the time it happened."""

from __future__ import annotations

import logging
import time

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit, QWidget

logger = logging.getLogger("workbench.qt")

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR,
           "problem": logging.ERROR}


class ActivityLog(QPlainTextEdit):
    """Read-only, bounded log view; `append_entry(level, message)` also forwards to Python logging."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("activityLog")
        self.setReadOnly(True)
        self.setMaximumBlockCount(10_000)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.entries: list[tuple[str, str]] = []

    def append_entry(self, level: str, message: str) -> None:
        self.entries.append((level, message))
        del self.entries[:-2000]
        logger.log(_LEVELS.get(level, logging.INFO), message)
        self.appendPlainText(f"{time.strftime('%H:%M:%S')} [{level}] {message}")
