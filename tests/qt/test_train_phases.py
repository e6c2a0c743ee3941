"""The Train pane keeps pretraining apart from supervised curves and shows the curriculum's share of data."""

from __future__ import annotations

from workbench.core.events import BatchEnded, EpochEnded


def _epoch(epoch: int, phase: str = "supervised", share: float = 1.0) -> EpochEnded:
    return EpochEnded(epoch, 3, 1.0 / epoch, 1.2 / epoch, 0.5, {"accuracy": 0.6}, 1e-3, 0.1, False, phase=phase,
                      data_fraction=share)


def test_pretraining_epochs_have_their_own_curve(make_window) -> None:
    pane = make_window().panes["train"]
    pane._on_batch(BatchEnded(1, 1, 4, 2.0, 1e-3, 100.0, 1, phase="pretraining"))
    pane._on_epoch(_epoch(1, phase="pretraining"))
    pane._on_epoch(_epoch(2, phase="pretraining"))
    pane._on_epoch(_epoch(1))
    assert pane.loss_plot.series_length("pretrain") == 2
    assert pane.loss_plot.series_length("train") == 1
    assert pane.loss_plot.series_length("train_batch") == 0, "pretraining batches stay off the supervised curve"


def test_curriculum_share_is_plotted_only_when_below_one(make_window) -> None:
    pane = make_window().panes["train"]
    pane._on_epoch(_epoch(1))
    assert pane.acc_plot.series_length("data_share") == 0
    pane._on_epoch(_epoch(2, share=0.25))
    pane._on_epoch(_epoch(3, share=1.0))
    epochs, shares = pane.acc_plot.series_data("data_share")
    assert list(epochs) == [2, 3] and list(shares) == [0.25, 1.0]
