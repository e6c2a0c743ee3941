"""TrainingRunner with a stand-in engine: signals per event family, throttling, refusal, stop, crashes."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from workbench.core.config import ProjectConfig
from workbench.core.events import BatchEnded, EpochEnded, RunFinished, RunStarted
from workbench.qt.runner import TrainingRunner


def _started() -> RunStarted:
    return RunStarted("r1", "/tmp/r1", "cpu", 2, ("a", "b"), {"train": 8}, 1, 200, 10, (1, 8, 8))


@pytest.fixture
def fake_engine(monkeypatch, engine_loaded):
    import workbench.core.training.engine as engine

    calls = SimpleNamespace(threads=[], resume=[])

    def fake_train(config, callback=None, control=None, *, resume=None):
        calls.threads.append(threading.current_thread())
        calls.resume.append(resume)
        callback.on_event(_started())
        for batch in range(1, 201):
            if not control.wait_while_paused():
                callback.on_event(RunFinished("r1", "/tmp/r1", "stopped", 0, {}, 0))
                return SimpleNamespace(status="stopped", run_dir="/tmp/r1")
            callback.on_event(BatchEnded(1, batch, 200, 1.0 / batch, 0.01, 100.0, batch))
            time.sleep(0.001)  # a batch takes time: a pause or stop from the GUI thread lands before the last one
        callback.on_event(EpochEnded(1, 1, 0.5, 0.6, 0.7, {"accuracy": 0.7}, 0.01, 0.1, True))
        callback.on_event(RunFinished("r1", "/tmp/r1", "completed", 1, {"accuracy": 0.7}, 1))
        return SimpleNamespace(status="completed", run_dir="/tmp/r1")

    monkeypatch.setattr(engine, "train", fake_train)
    return calls


def test_events_become_signals_and_batches_are_throttled(qtbot, fake_engine) -> None:
    runner = TrainingRunner()
    batches, generic = [], []
    runner.batch.connect(batches.append)
    runner.event.connect(generic.append)
    with qtbot.waitSignals([runner.run_started, runner.epoch, runner.run_finished, runner.result,
                            runner.thread_finished], order="strict", timeout=10_000):
        assert runner.start(ProjectConfig())
    assert fake_engine.threads[0] is not threading.main_thread()
    assert 1 <= len(batches) < 50  # 200 batches in well under a second: ~10/s pass
    assert batches[-1].batch == 200  # the last batch of an epoch always passes
    assert [type(e) for e in generic if not isinstance(e, BatchEnded)] == [RunStarted, EpochEnded, RunFinished]
    assert runner.last_result.status == "completed"
    assert not runner.is_running


def test_second_start_is_refused_and_stop_ends_a_paused_run(qtbot, fake_engine) -> None:
    runner = TrainingRunner()
    assert runner.start(ProjectConfig())
    runner.pause()
    assert runner.is_paused
    with qtbot.waitSignal(runner.refused, timeout=2000) as blocker:
        assert not runner.start(ProjectConfig())
    assert "already in progress" in blocker.args[0]
    with qtbot.waitSignal(runner.thread_finished, timeout=10_000):
        runner.stop()
    assert runner.last_result.status == "stopped"
    assert runner.start(ProjectConfig(), resume="/tmp/r1")
    qtbot.waitUntil(lambda: not runner.is_running, timeout=10_000)
    assert fake_engine.resume == [None, "/tmp/r1"]


def test_an_engine_crash_is_reported_not_swallowed(qtbot, monkeypatch, engine_loaded) -> None:
    import workbench.core.training.engine as engine

    def broken(*args, **kwargs):
        raise KeyError("oops")

    monkeypatch.setattr(engine, "train", broken)
    runner = TrainingRunner()
    with qtbot.waitSignal(runner.crashed, timeout=10_000) as blocker:
        runner.start(ProjectConfig())
    assert "KeyError" in blocker.args[0] and "Traceback" in blocker.args[1]
    qtbot.waitUntil(lambda: not runner.is_running, timeout=10_000)


def test_a_run_is_over_at_run_finished_while_its_background_checks_go_on_with_a_line(qtbot, monkeypatch,
                                                                                    engine_loaded) -> None:
    import workbench.core.training.engine as engine
    from workbench.core.events import BackgroundProgress

    release, seen = threading.Event(), {}

    def fake_train(config, callback=None, control=None, *, resume=None):
        callback.on_event(_started())
        callback.on_event(RunFinished("r1", "/tmp/r1", "completed", 1, {"accuracy": 0.7}, 1))
        callback.on_event(BackgroundProgress("shortcut", "Checking for shortcuts", 3, 10, "classes"))
        while not release.wait(0.01):  # the end-of-run checks, until the test (or a stop) ends them
            if control.stop_requested:
                seen["cancelled"] = True
                break
        callback.on_event(BackgroundProgress("shortcut", "Checking for shortcuts", 10, 10, "classes", True))
        return SimpleNamespace(status="completed", run_dir="/tmp/r1")

    monkeypatch.setattr(engine, "train", fake_train)
    runner = TrainingRunner()
    states, lines = [], []
    runner.running_changed.connect(states.append)
    runner.background.connect(lambda e: lines.append(e.text))
    with qtbot.waitSignal(runner.background, timeout=10_000):
        assert runner.start(ProjectConfig())
    assert states == [True, False]  # reported over at RunFinished: Evaluate and a new run may start
    assert not runner.is_running and runner.is_busy
    assert lines == ["Checking for shortcuts: 3 of 10 classes"]
    # A new start cancels the previous run's background checks instead of being refused.
    refused = []
    runner.refused.connect(refused.append)
    monkeypatch.setattr(engine, "train", lambda config, callback=None, control=None, *, resume=None:
                        SimpleNamespace(status="completed", run_dir="/tmp/r2"))
    assert runner.start(ProjectConfig())
    assert seen.get("cancelled") and not refused
    qtbot.waitUntil(lambda: not runner.is_busy, timeout=10_000)  # the new run ran and ended
    assert runner.last_result.run_dir == "/tmp/r2"
    release.set()


@pytest.mark.skipif(not hasattr(__import__("os"), "setpriority"), reason="per-thread niceness is a Linux feature")
def test_training_yields_the_cpu_to_the_window_and_so_do_its_torch_threads(qtbot, monkeypatch, engine_loaded) -> None:
    import os
    from pathlib import Path

    import torch

    import workbench.core.training.engine as engine
    from workbench.qt.runner import TRAINING_NICENESS

    def niceness(tid: int) -> int:
        return int(Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()[16])

    seen = SimpleNamespace(training=None, workers=[])

    def fake_train(config, callback=None, control=None, *, resume=None):
        seen.training = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        before = set(os.listdir("/proc/self/task"))
        torch.mm(torch.rand(256, 256), torch.rand(256, 256))  # starts this thread's intra-op workers
        seen.workers = [niceness(int(t)) for t in set(os.listdir("/proc/self/task")) - before]
        return SimpleNamespace(status="completed", run_dir="/tmp/r1")

    monkeypatch.setattr(engine, "train", fake_train)
    runner = TrainingRunner()
    with qtbot.waitSignal(runner.thread_finished, timeout=10_000):
        assert runner.start(ProjectConfig())
    assert seen.training == TRAINING_NICENESS > os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert len(seen.workers) >= (torch.get_num_threads() > 1)  # a new thread's OpenMP team starts with it
    assert all(n == TRAINING_NICENESS for n in seen.workers)
