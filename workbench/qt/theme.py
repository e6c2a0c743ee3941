"""Light and dark look: the Fusion style, a palette and the style sheet, following the system colour scheme.

There is one style sheet (resources/style.qss), written for the light theme; the dark theme maps its
colours through `DARK_COLOURS`. `ThemeController` applies the theme that matches the system setting
(QStyleHints.colorScheme(), Qt 6.5+) and switches when the system setting changes. The environment
variable WORKBENCH_THEME=light|dark forces one.
"""

from __future__ import annotations

import os
import re
import sys

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from workbench.qt.resources import style_sheet

# light colour of the style sheet -> its dark counterpart
DARK_COLOURS: dict[str, str] = {
    "#ffffff": "#1e2329", "#f8fafc": "#20262d", "#f5f7fa": "#1a1f24", "#f1f4f7": "#242a31", "#f1f4f8": "#242a31",
    "#f0f4f8": "#242a31", "#eef1f5": "#2a3038", "#edf1f5": "#2a3038", "#e8edf3": "#2c333b", "#e4e9ef": "#313841",
    "#e2e8f0": "#313841", "#e1e6ec": "#353c45", "#dde3ea": "#3a424c", "#dbe2ea": "#3a424c", "#d3dae2": "#414a55",
    "#c7d0da": "#4a5360", "#c5ced8": "#4a5360", "#9aa5b1": "#7b8794", "#616e7c": "#a9b4c0", "#52606d": "#b8c2cc",
    "#475569": "#c0c9d3", "#334155": "#d3dae2", "#1f2933": "#e4e9ef", "#e8f0fe": "#1e3a66", "#dbeafe": "#1e3a66",
    "#b3c9f6": "#2b4f8a", "#a9c0f2": "#2b4f8a", "#fdecea": "#4a2320", "#f1dcd9": "#4a2320", "#f3a8a0": "#8a3b33",
    "#f0b3ab": "#8a3b33", "#d8a7a1": "#8a3b33", "#fff4e5": "#4a3514", "#f5c27a": "#8a6220", "#2563eb": "#60a5fa",
    "#1d4ed8": "#93c5fd", "#111827": "#f1f4f8", "#c0392b": "#f08a7e", "#b42318": "#f08a7e", "#b45309": "#f5b35c",
}


def system_is_dark() -> bool:
    forced = os.environ.get("WORKBENCH_THEME", "").lower()
    if forced in ("light", "dark"):
        return forced == "dark"
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    if scheme is not None:
        return scheme() == Qt.ColorScheme.Dark
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def dark_style_sheet(light: str) -> str:
    return re.sub(r"#[0-9a-fA-F]{6}\b", lambda m: DARK_COLOURS.get(m.group(0).lower(), m.group(0)), light)


def dark_palette() -> QPalette:
    palette = QPalette()
    roles = QPalette.ColorRole
    for role, colour in ((roles.Window, "#1a1f24"), (roles.WindowText, "#e4e9ef"), (roles.Base, "#1e2329"),
                         (roles.AlternateBase, "#242a31"), (roles.ToolTipBase, "#2a3038"), (roles.ToolTipText, "#e4e9ef"),
                         (roles.Text, "#e4e9ef"), (roles.Button, "#2a3038"), (roles.ButtonText, "#e4e9ef"),
                         (roles.BrightText, "#ffffff"), (roles.Highlight, "#2b6cd4"), (roles.HighlightedText, "#ffffff"),
                         (roles.Link, "#60a5fa"), (roles.PlaceholderText, "#7b8794")):
        palette.setColor(role, QColor(colour))
    palette.setColor(QPalette.ColorGroup.Disabled, roles.Text, QColor("#6b7683"))
    palette.setColor(QPalette.ColorGroup.Disabled, roles.ButtonText, QColor("#6b7683"))
    return palette


class ThemeController(QObject):
    """Applies the light or dark theme to the application and follows the system's colour scheme."""

    theme_changed = Signal(bool)  # dark

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self.app = app
        self.dark: bool | None = None
        self._light_sheet = style_sheet()
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(lambda *_: self.apply())
        self.apply()

    def apply(self, dark: bool | None = None) -> None:
        dark = system_is_dark() if dark is None else dark
        if dark == self.dark:
            return
        self.dark = dark
        self.app.setPalette(dark_palette() if dark else self.app.style().standardPalette())
        self.app.setStyleSheet(dark_style_sheet(self._light_sheet) if dark else self._light_sheet)
        self.app.setProperty("workbenchDark", dark)
        if "pyqtgraph" in sys.modules:  # plots exist only once it is loaded; never import it just for this
            from workbench.qt.plot_theme import restyle_all

            restyle_all(self.app, dark)
        self.theme_changed.emit(dark)
