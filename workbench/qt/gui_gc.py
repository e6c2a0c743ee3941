"""Python's cyclic garbage collection on the GUI thread only.

The collector runs in whichever thread happens to allocate when a generation fills up. When that is the
training thread, or a helper's reader thread, and the garbage holds Qt objects (a dropped plot, a closed
dialog), their C++ destructors run off the GUI thread, and Qt crashes (a segfault in "Garbage-collecting").
So automatic collection is turned off, and a timer on the GUI thread collects with Python's own thresholds:
the same collections, in the one thread where Qt objects may die. This is the usual recipe for PyQt and
PySide applications with worker threads.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 250


class GuiThreadGarbageCollector(QObject):
    def __init__(self, parent: QObject, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> int | None:
        """Collect the oldest generation whose count passed its threshold, as automatic collection would."""
        counts = gc.get_count()
        generation = None
        for level in range(3):
            if counts[level] > self.threshold[level]:
                generation = level
        if generation is None:
            return None
        gc.collect(generation)
        return generation


def install(app: QObject) -> GuiThreadGarbageCollector:
    """Once per application (called from its creation and from each main window; later calls return the first)."""
    collector = getattr(app, "_workbench_gc", None)
    if collector is None:
        collector = GuiThreadGarbageCollector(app)
        app._workbench_gc = collector
    return collector
