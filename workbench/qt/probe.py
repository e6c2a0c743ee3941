"""Event-loop helpers for tests and scripts: a stall probe, and waiting by running the event loop.

`StallProbe` is a timer that measures how late the GUI thread serves it; a stall is the delay beyond
the timer's interval between two consecutive ticks, and long stalls mean a frozen window. It is used
by the responsiveness test and `benchmarks/gui_responsiveness.py`. `wait_until` runs the Qt event
loop until a condition holds (scripts use it instead of sleeping or calling processEvents).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str = "a condition") -> None:
    """Run the event loop until `predicate()` is true; raise TimeoutError after `timeout_s` seconds."""
    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(25)
    timer.timeout.connect(lambda: loop.quit() if predicate() or time.monotonic() > deadline else None)
    timer.start()
    if not predicate():
        loop.exec()
    timer.stop()
    if not predicate():
        raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


class StallProbe(QObject):
    """Ticks every `interval_ms` on the GUI thread and records how late each tick came."""

    def __init__(self, interval_ms: int = 20, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval = interval_ms / 1000.0
        self.stalls: list[float] = []
        self.times: list[float] = []  # perf_counter() of each tick
        self._last = 0.0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.stalls.clear()
        self.times.clear()
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.stalls.append(max(0.0, now - self._last - self.interval))
        self.times.append(now)
        self._last = now

    @property
    def max_stall(self) -> float:
        return max(self.stalls, default=0.0)

    @property
    def p95_stall(self) -> float:
        ordered = sorted(self.stalls)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0

    @property
    def median_stall(self) -> float:
        return statistics.median(self.stalls) if self.stalls else 0.0

    def summary(self) -> str:
        return (f"{len(self.stalls)} ticks, median stall {1000 * self.median_stall:.1f} ms, "
                f"95th percentile {1000 * self.p95_stall:.1f} ms, max stall {1000 * self.max_stall:.1f} ms")
