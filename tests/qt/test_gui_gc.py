"""Cyclic garbage is collected on the GUI thread only: a collection that a worker thread's allocations trigger
would run Qt objects' destructors off the GUI thread (a segfault in "Garbage-collecting", seen in CI)."""

from __future__ import annotations

import gc
import threading

from workbench.qt import gui_gc


def test_cyclic_garbage_dies_on_the_gui_thread_even_when_a_worker_allocates(qapp) -> None:
    collector = gui_gc.install(qapp)
    assert gui_gc.install(qapp) is collector and not gc.isenabled()
    died_on: list[str] = []

    class Cycle:
        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            died_on.append(threading.current_thread().name)

    Cycle()  # unreachable, held only by its own cycle
    worker = threading.Thread(target=lambda: len([[] for _ in range(50_000)]), name="worker")
    worker.start()  # enough allocations to fill generation 0 many times over
    worker.join()
    assert died_on == []  # nothing was collected on the worker
    keep = [[] for _ in range(2 * gc.get_threshold()[0])]  # the GUI thread's own allocations fill generation 0
    assert collector.timer.isActive() and collector.check() is not None  # what its timer calls on this thread
    assert died_on == ["MainThread"] and keep
