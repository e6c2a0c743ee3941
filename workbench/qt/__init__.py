"""The Workbench desktop GUI (PySide6 and pyqtgraph); the only layer that imports Qt.

Start it with `workbench` or `python -m workbench.qt`; `workbench.qt.app.main()` is the entry point.
"""
