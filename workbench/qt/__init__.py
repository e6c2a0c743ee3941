"""The Workbench desktop GUI (PySide6 and pyqtgraph); the only layer that imports Qt.

Start it with `workbench` or `python -m workbench.qt`; `workbench.qt.app.main()` is the entry point.
"""

# Reports written from the GUI and the CLI pass Qt's PDF renderer (workbench.qt.report_pdf) explicitly; the
# report package is not imported here, so that opening the window does not wait for it.
