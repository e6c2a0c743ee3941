"""Python's cyclic garbage collection on the GUI thread only.

The collector runs in whichever thread happens to allocate when a generation fills up. When that is the
training thread, or a helper's reader thread, and the garbage holds Qt objects (a dropped plot, a closed
dialog), their C++ destructors run off the GUI thread, and Qt crashes (a segfault in "Garbage-collecting").
So automatic collection is turned off, and a timer on the GUI thread collects with Python's own thresholds,
in the one thread where Qt objects may die (the usual recipe for PyQt and PySide applications with worker
threads). A full collection walks every object (half a million with torch loaded: 150-300 ms); like CPython,
it waits until a quarter more objects have survived into the oldest generation than after the last one, and
it is looked at no more than once a minute.
"""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 20  # often enough that a burst of allocations (a run starting) leaves only small generations
FULL_EVERY_S = 60.0


class GuiThreadGarbageCollector(QObject):
    def __init__(self, parent: QObject, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self.last_full = time.monotonic()
        self.long_lived = len(gc.get_objects(2))
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
        if generation == 2:
            generation = 1
            if time.monotonic() - self.last_full >= FULL_EVERY_S:
                self.last_full = time.monotonic()
                if len(gc.get_objects(2)) - self.long_lived > self.long_lived / 4:  # CPython's own rule
                    generation = 2
        gc.collect(generation)
        if generation == 2:
            self.long_lived = len(gc.get_objects(2))
        return generation


def install(app: QObject) -> GuiThreadGarbageCollector:
    """Once per application (each main window calls it; later calls return the first collector)."""
    collector = getattr(app, "_workbench_gc", None)
    if collector is None:
        collector = GuiThreadGarbageCollector(app)
        app._workbench_gc = collector
    return collector
