"""The first-run welcome: two ways to begin, "Try with sample data" and "Open my images".

The dialog only reports the choice (`chosen` with "sample" or "open"); the main window does the work,
in background tasks. It is modeless-in-effect (opened with `open()`, never `exec()`), so nothing blocks
the event loop and tests can press its buttons. `is_first_run` / `mark_welcomed` keep the QSettings flag.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, QSize, Signal
from PySide6.QtWidgets import QCheckBox, QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from workbench.qt.resources import app_icon

WELCOMED_KEY = "welcome/shown"


def is_first_run(settings: QSettings) -> bool:
    return str(settings.value(WELCOMED_KEY, "false")).lower() not in ("true", "1")


def mark_welcomed(settings: QSettings, welcomed: bool = True) -> None:
    settings.setValue(WELCOMED_KEY, welcomed)
    settings.sync()


class WelcomeDialog(QDialog):
    """A short welcome with the two ways to start."""

    chosen = Signal(str)  # "sample" or "open"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcomeDialog")
        self.setWindowTitle(self.tr("Welcome to Workbench"))
        self.setModal(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 28, 32, 24)
        layout.setSpacing(14)
        head = QHBoxLayout()
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(QSize(64, 64)))
        title = QLabel(self.tr("Welcome to Workbench"))
        title.setObjectName("paneTitle")
        head.addWidget(logo)
        head.addSpacing(12)
        head.addWidget(title, 1)
        layout.addLayout(head)
        intro = QLabel(self.tr(
            "Workbench trains an image classifier on your own images, step by step, and checks the common "
            "pitfalls for you: unfair input sizes, unnormalised data, bad labels, a loss that makes no sense, "
            "and a test set used for tuning. Every page has a Help button (F1) that explains its choices."))
        intro.setWordWrap(True)
        intro.setMinimumHeight(intro.fontMetrics().lineSpacing() * 5)
        layout.addWidget(intro)
        self.sample_button = self._choice(
            self.tr("Try with sample data"),
            self.tr("1,797 scans of handwritten digits, with settings that train in a few minutes on a laptop."),
            "primary")
        self.open_button = self._choice(
            self.tr("Open my images"),
            self.tr("Choose a folder with one sub-folder of images per class (e.g. healthy/, infected/)."), "")
        self.sample_button.clicked.connect(lambda: self._choose("sample"))
        self.open_button.clicked.connect(lambda: self._choose("open"))
        for button in (self.sample_button, self.open_button):
            layout.addWidget(button)
            layout.addWidget(button.detail)
            layout.addSpacing(4)
        bottom = QHBoxLayout()
        self.again = QCheckBox(self.tr("Show this at start-up"))
        self.again.setToolTip(self.tr("The welcome can always be shown again from Help ▸ Welcome"))
        close = QPushButton(self.tr("Skip"))
        close.setToolTip(self.tr("Start with an empty project"))
        close.clicked.connect(self.reject)
        bottom.addWidget(self.again, 1)
        bottom.addWidget(close)
        layout.addLayout(bottom)
        self.setMinimumWidth(560)

    def _choice(self, title: str, detail: str, name: str) -> QPushButton:
        """A large button with its explanation in grey beneath it (added to the layout by the caller)."""
        button = QPushButton(title)
        button.setObjectName(name or "welcomeChoice")
        button.setToolTip(detail)
        button.setMinimumHeight(40)
        button.detail = QLabel(detail)
        button.detail.setObjectName("hint")
        button.detail.setWordWrap(True)
        return button

    def _choose(self, choice: str) -> None:
        self.chosen.emit(choice)
        self.accept()


__all__ = ["WelcomeDialog", "is_first_run", "mark_welcomed"]
