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
