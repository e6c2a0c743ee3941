"""ThrottledCallback: progress events reach a window at most ~10 times a second per stage or task, with each
stage's first and last event; other events all pass."""

from __future__ import annotations

import pytest

from workbench.core import callbacks
from workbench.core.callbacks import CollectingCallback, ThrottledCallback
from workbench.core.events import BackgroundProgress, BatchEnded, LogMessage, StageProgress


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(callbacks.time, "monotonic", lambda: now[0])
    return now


def test_a_burst_of_stage_steps_sends_the_first_and_the_last(clock) -> None:
    seen = CollectingCallback()
    throttled = ThrottledCallback(seen, rate_hz=10)
    for done in range(1, 41):  # 40 steps in 20 ms, as data preparation reported them
        throttled.on_event(StageProgress("decoding", done, 40))
        clock[0] += 0.0005
    assert [e.done for e in seen.events] == [1, 40]


def test_each_stage_and_task_has_its_own_pace_and_other_events_all_pass(clock) -> None:
    seen = CollectingCallback()
    throttled = ThrottledCallback(seen, rate_hz=10)
    events = [StageProgress("scanning", 1, 10), StageProgress("decoding", 1, 10), StageProgress("scanning", 2, 10),
              BackgroundProgress("shortcut", "Checking for shortcuts", 1, 10),
              BackgroundProgress("label-check", "Checking the labels", 1, 2),
              BackgroundProgress("shortcut", "Checking for shortcuts", 2, 10),
              BackgroundProgress("shortcut", "Checking for shortcuts", 2, 10, finished=True),
              LogMessage("info", "a"), LogMessage("info", "b")]
    for event in events:
        throttled.on_event(event)
    assert seen.events == [events[0], events[1], events[3], events[4], events[6], events[7], events[8]]
    clock[0] += 0.11  # a tenth of a second later the next step of a stage goes through
    throttled.on_event(StageProgress("scanning", 3, 10))
    assert seen.events[-1] == StageProgress("scanning", 3, 10)


def test_batches_keep_their_rate_and_the_epochs_last_batch(clock) -> None:
    seen = CollectingCallback()
    throttled = ThrottledCallback(seen, rate_hz=10)
    for batch in range(1, 21):
        throttled.on_event(BatchEnded(1, batch, 20, 0.5, 0.01, 1000.0, batch))
        clock[0] += 0.03
    assert [e.batch for e in seen.events] == [1, 5, 9, 13, 17, 20]
