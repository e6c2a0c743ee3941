"""HTML to PDF with Qt's QTextDocument and QPdfWriter, for reports written by the CLI and the GUI.

Qt is already a dependency (the GUI), it lays out tables and embedded PNGs without a browser, and it
needs no system libraries beyond its own, unlike WeasyPrint (Pango) or a headless browser. The engine
stays Qt-free: front ends hand this renderer to `workbench.core.export.report.write_report`. PySide6 is
imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MARGIN_MM = 14
_app: Any = None  # kept alive for the process: Qt must not lose its application object mid-way


def _ensure_gui_application() -> None:
    """Reuse the running Qt application, or start an offscreen one (no window, no display needed)."""
    global _app
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtGui import QGuiApplication

    existing = QCoreApplication.instance()
    if existing is not None:
        if not isinstance(existing, QGuiApplication):
            raise RuntimeError("a console-only Qt application is running; PDF reports need a QGuiApplication")
        return
    try:  # a full QApplication, so a GUI started later in this process (tests, the app itself) still works
        from PySide6.QtWidgets import QApplication as AppClass
    except ImportError:
        AppClass = QGuiApplication  # type: ignore[misc,assignment]
    _app = AppClass(["workbench-report", "-platform", "offscreen"])


def html_to_pdf(html: str, dest: str | Path, title: str = "Workbench report") -> Path:
    """Lay out `html` on A4 pages and write the PDF to `dest`."""
    _ensure_gui_application()
    from PySide6.QtCore import QMarginsF, QSizeF
    from PySide6.QtGui import QFont, QPageLayout, QPageSize, QPdfWriter, QTextDocument

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    writer = QPdfWriter(str(dest))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM), QPageLayout.Unit.Millimeter)
    writer.setResolution(300)
    writer.setTitle(title)
    writer.setCreator("Workbench")
    document = QTextDocument()
    # Lay out on an A4 text area measured at 96 px per inch (as a browser would), so image widths given in
    # pixels mean the same in the PDF as on screen; print_ then scales the pages to the printer.
    text_mm = (210 - 2 * MARGIN_MM, 297 - 2 * MARGIN_MM)
    document.setPageSize(QSizeF(text_mm[0] / 25.4 * 96, text_mm[1] / 25.4 * 96))
    font = QFont("DejaVu Sans")
    font.setPointSizeF(8.5)
    document.setDefaultFont(font)
    document.setHtml(html)
    document.print_(writer)
    del writer  # closes the file
    if not dest.exists() or dest.stat().st_size == 0:
        raise RuntimeError(f"the PDF {dest} could not be written")
    return dest
