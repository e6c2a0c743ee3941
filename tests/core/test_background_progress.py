"""The end-of-run diagnostics speak in labelled lines: on the console once the run has finished, never silently."""

from __future__ import annotations

from workbench.core.events import BackgroundProgress, EpochEnded, RunFinished
from workbench.progress import ConsoleProgress


def test_console_prints_each_background_line_after_the_run_finished(capsys) -> None:
    console = ConsoleProgress(live_bars=False)
    console.on_event(BackgroundProgress("data-checks", "Checking the data", 4, 10, "checks"))
    console.on_event(EpochEnded(1, 1, 0.5, 0.4, 0.8, {"accuracy": 0.9}, 1e-3, 1.0, True))
    assert "Checking" not in capsys.readouterr().err  # the epoch lines stay readable while training
    console.on_event(RunFinished("r", "/tmp/r", "completed", 1, {}, 1))
    console.on_event(BackgroundProgress("shortcut", "Checking for shortcuts", 3, 10, "classes"))
    console.on_event(BackgroundProgress("shortcut", "Checking for shortcuts", 3, 10, "classes"))  # no repeat
    console.on_event(BackgroundProgress("shortcut", "Checking for shortcuts", 10, 10, "classes", finished=True))
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["Checking the data: 4 of 10 checks", "Checking for shortcuts: 3 of 10 classes",
                     "Checking for shortcuts: done"]


def test_events_from_end_of_run_threads_reach_callbacks_one_at_a_time() -> None:
    """The label check can finish in its thread while the training thread reports the run finished: the console's
    progress (not thread-safe) once raised a KeyError then. The engine's emitter hands over one event at a time."""
    import threading
    import time

    from workbench.core.callbacks import Callback
    from workbench.core.training.engine import _Emitter

    inside, overlaps = [0], [0]

    class Slow(Callback):
        def on_event(self, event) -> None:
            inside[0] += 1
            overlaps[0] += inside[0] > 1
            time.sleep(0.002)
            inside[0] -= 1

    emit = _Emitter(Slow(), is_main=True)
    threads = [threading.Thread(target=lambda: [emit(BackgroundProgress("t", "Task", i, 9, "steps"))
                                                for i in range(20)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps[0] == 0
