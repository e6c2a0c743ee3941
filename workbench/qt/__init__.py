"""The Workbench desktop GUI (PySide6 and pyqtgraph); the only layer that imports Qt.

Start it with `workbench` or `python -m workbench.qt`; `workbench.qt.app.main()` is the entry point.
"""

from workbench.core.export.report import set_pdf_renderer
from workbench.qt.report_pdf import html_to_pdf

set_pdf_renderer(html_to_pdf)  # reports written from the GUI get their PDF through Qt
