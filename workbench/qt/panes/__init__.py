"""One pane per wizard step. Panes read and write the ProjectConfig and listen to runner signals.

No pane imports torch: heavy work goes through `workbench.qt.jobs` on background threads.
"""
