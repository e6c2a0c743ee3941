"""The background task helper: results on the GUI thread, supersession, errors, busy state."""

from __future__ import annotations

import threading

from PySide6.QtCore import QThread

from workbench.qt.tasks import TaskManager


def test_result_arrives_on_the_gui_thread(qtbot) -> None:
    tasks = TaskManager()
    seen = {}

    def work() -> str:
        seen["worker"] = threading.current_thread() is not threading.main_thread()
        return "done"

    def on_result(value: str) -> None:
        seen["value"] = value
        seen["gui"] = QThread.currentThread() is tasks.thread()

    with qtbot.waitSignal(tasks.busy_changed, timeout=5000, check_params_cb=lambda busy: not busy):
        tasks.submit("k", work, on_result=on_result)
    assert seen == {"worker": True, "value": "done", "gui": True}


def test_newer_task_with_same_key_supersedes(qtbot) -> None:
    tasks = TaskManager()
    gate = threading.Event()
    results = []

    def slow(context) -> str:
        gate.wait(5)
        return "old" if not context.should_stop() else "cancelled"

    tasks.submit("k", slow, on_result=results.append)
    tasks.submit("k", lambda: "new", on_result=results.append)
    gate.set()
    qtbot.waitUntil(lambda: not tasks.is_busy, timeout=5000)
    assert results == ["new"]


def test_unexpected_errors_are_reported_and_expected_ones_are_not(qtbot) -> None:
    tasks = TaskManager()
    inline = []

    def boom() -> None:
        raise RuntimeError("disk on fire")

    with qtbot.waitSignal(tasks.failed, timeout=5000) as blocker:
        tasks.submit("a", boom, label="Burning")
    assert blocker.args[0].message == "disk on fire" and blocker.args[0].label == "Burning"
    assert "RuntimeError" in blocker.args[0].details

    def bad_input() -> None:
        raise ValueError("bad folder")

    with qtbot.assertNotEmitted(tasks.failed):
        tasks.submit("b", bad_input, on_error=inline.append, expected=(ValueError,))
        qtbot.waitUntil(lambda: not tasks.is_busy, timeout=5000)
    assert [f.message for f in inline] == ["bad folder"]


def test_progress_is_forwarded(qtbot) -> None:
    tasks = TaskManager()
    progress = []

    def work(context) -> None:
        for i in range(3):
            context.progress(i + 1, 3, "step")

    tasks.submit("p", work, on_progress=lambda d, t, m: progress.append((d, t)))
    qtbot.waitUntil(lambda: not tasks.is_busy, timeout=5000)
    assert progress[-1] == (3, 3)
