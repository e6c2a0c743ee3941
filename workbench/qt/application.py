"""The QApplication: Workbench's names (for QSettings and data folders), theme, font and translations."""

from __future__ import annotations

import sys

from PySide6.QtCore import QLibraryInfo, QLocale, Qt, QTranslator
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import QApplication

import workbench
from workbench.qt.resources import app_icon, resources_dir
from workbench.qt.runner import SWITCH_INTERVAL_S
from workbench.qt.theme import ThemeController


def install_translator(app: QApplication, locale: QLocale | None = None) -> list[QTranslator]:
    """Translations for the system locale: Qt's own, and resources/i18n/workbench_<locale>.qm when it exists."""
    locale = locale or QLocale.system()
    installed = []
    for name, folder in (("qtbase", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)),
                         ("workbench", str(resources_dir() / "i18n"))):
        translator = QTranslator(app)
        if translator.load(locale, name, "_", folder):
            app.installTranslator(translator)
            installed.append(translator)
    return installed


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication, with Workbench's names (for QSettings and data folders), theme, font and translations."""
    app = QApplication.instance()
    if app is None:
        # Sharp on fractional scale factors (150 %): pass the exact factor through instead of rounding it.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(["workbench", *(argv or [])])
    app.setOrganizationName("Workbench")
    app.setOrganizationDomain("workbench.local")
    app.setApplicationName("Workbench")
    app.setApplicationDisplayName("Workbench")
    app.setApplicationVersion(workbench.__version__)
    app.setStyle("Fusion")
    # Background threads (engine warm-up, scans, training) run Python code too; a short switch interval
    # lets the GUI thread take the GIL back within half a millisecond, so the window never waits on them.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    font = QFont(app.font())
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
    app.setFont(font)
    if getattr(app, "_workbench_theme", None) is None:
        app._workbench_theme = ThemeController(app)
        app._workbench_translators = install_translator(app)
    app.setWindowIcon(app_icon())
    return app


