"""The window stays responsive while a real training run goes: no event-loop stall over 250 ms."""

from __future__ import annotations

from tests.helpers import write_shapes_dataset
from tests.qt.helpers import TINY_TRAINING
from workbench.qt.probe import StallProbe

MAX_STALL_S = 0.25


def test_event_loop_never_stalls_during_training(qtbot, make_window, engine_loaded, tmp_path) -> None:
    dataset = write_shapes_dataset(tmp_path / "data", per_class=60, size=32, colour=True)
    window = make_window()
    window.project.update_many({**TINY_TRAINING, "preprocessing.image_size": 32, "model.small_cnn.width": 16,
                                "model.small_cnn.depth": 3, "training.epochs": 5, "training.batch_size": 8})
    window.load_dropped(dataset)
    qtbot.waitUntil(lambda: window.dataset.stats is not None and not window.tasks.is_busy, timeout=60_000)
    window.show_step("train")
    train = window.panes["train"]
    probe = StallProbe(interval_ms=20)
    probe.start()
    train.start()
    qtbot.waitUntil(lambda: not window.runner.is_running, timeout=120_000)
    probe.stop()
    assert train.phase == "completed", train.failure
    assert train.loss_plot.series_length("train_batch") > 10
    assert len(probe.stalls) > 50, probe.summary()
    assert probe.max_stall < MAX_STALL_S, probe.summary()
