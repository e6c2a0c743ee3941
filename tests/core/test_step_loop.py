"""The one step loop: logged rates, clipping, stop and pause, NaN, out-of-memory; and its three callers."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tests.helpers import strategy_config
from workbench.core.callbacks import CollectingCallback
from workbench.core.events import BatchEnded, EngineEvent, EpochEnded
from workbench.core.training.checkpoints import load_checkpoint
from workbench.core.training.control import RunControl
from workbench.core.training.engine import train
from workbench.core.training.monitors import Monitor
from workbench.core.training.state import TrainState
from workbench.core.training.steps import NonFiniteLoss, StepLoop, StepOutput, StopRequested

X = torch.randn(24, 3, generator=torch.Generator().manual_seed(0))
Y = X @ torch.tensor([[1.0], [-2.0], [0.5]])


def regression(scale: float = 1.0):
    """A linear model, its optimizer, a rate that halves every step, a loader and a loss function."""
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 ** step)

    def load(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return X[rows] * scale, Y[rows] * scale

    def loss_of(batch: tuple[torch.Tensor, torch.Tensor]) -> StepOutput:
        x, y = batch
        return StepOutput(nn.functional.mse_loss(model(x), y), len(y))

    return model, optimizer, scheduler, load, loss_of


BATCHES = [np.arange(i, i + 6) for i in range(0, 24, 6)]


def test_each_batch_logs_the_rate_its_step_used_and_counts_steps() -> None:
    _, optimizer, scheduler, load, loss_of = regression()
    events: list[EngineEvent] = []
    loop = StepLoop(optimizer, scheduler, emit=events.append, phase="pretraining", step=10)
    result = loop.run_epoch(3, BATCHES, load, loss_of)
    assert [e.lr for e in events] == pytest.approx([0.1, 0.05, 0.025, 0.0125])
    assert [(e.epoch, e.batch, e.batches, e.global_step, e.phase) for e in events] == [
        (3, b, 4, 10 + b, "pretraining") for b in range(1, 5)]
    assert result.lr == pytest.approx(0.0125) and loop.lr == pytest.approx(0.00625)
    assert result.images == 24 and np.isfinite(result.loss)


def grad_norms(clip: float) -> list[float]:
    model, optimizer, scheduler, load, loss_of = regression(scale=10.0)
    norms: list[float] = []

    def seen(_step: int, _epoch: int, _out: StepOutput) -> None:  # after the optimizer step, gradients present
        norms.append(float(torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in model.parameters()]))))

    StepLoop(optimizer, scheduler, clip_grad_norm=clip, on_step=seen).run_epoch(1, BATCHES, load, loss_of)
    return norms


def test_gradient_clipping_caps_the_norm_of_every_step() -> None:
    assert max(grad_norms(0.0)) > 1.0, "the test needs gradients larger than the cap"
    assert max(grad_norms(1.0)) == pytest.approx(1.0, rel=1e-5)


def test_mixed_precision_with_a_gradient_scaler_clips_the_unscaled_gradients() -> None:
    model, optimizer, scheduler, load, _ = regression(scale=10.0)
    norms: list[float] = []

    def loss_of(batch: tuple[torch.Tensor, torch.Tensor]) -> StepOutput:
        prediction = model(batch[0])
        assert prediction.dtype == torch.bfloat16, "the loss function runs under autocast"
        return StepOutput(nn.functional.mse_loss(prediction.float(), batch[1]), len(batch[1]))

    def seen(_step: int, _epoch: int, _out: StepOutput) -> None:
        norms.append(float(torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in model.parameters()]))))

    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12)
    loop = StepLoop(optimizer, scheduler, device_type="cpu", amp_dtype=torch.bfloat16, scaler=scaler,
                    clip_grad_norm=1.0, on_step=seen)
    result = loop.run_epoch(1, BATCHES, load, loss_of)
    assert np.isfinite(result.loss) and len(norms) == 4
    assert max(norms) == pytest.approx(1.0, rel=1e-3), "clipped after unscaling, so the cap applies to true gradients"


def test_a_stop_carries_the_position_and_the_sums_so_far() -> None:
    _, optimizer, scheduler, load, loss_of = regression()
    control = RunControl()
    loop = StepLoop(optimizer, scheduler, control=control,
                    emit=lambda e: control.request_stop() if isinstance(e, BatchEnded) and e.batch == 2 else None)
    with pytest.raises(StopRequested) as stopped:
        loop.run_epoch(1, BATCHES, load, loss_of)
    assert stopped.value.next_batch == 2 and stopped.value.partial["count"] == 12
    resumed = StepLoop(optimizer, scheduler).run_epoch(1, BATCHES, load, loss_of, start_batch=2,
                                                       partial=stopped.value.partial)
    assert resumed.images == 24, "the resumed epoch counts the images of the batches done before the stop"


def test_pause_blocks_between_batches() -> None:
    _, optimizer, scheduler, load, loss_of = regression()
    control = RunControl()
    stamps: list[float] = []

    def on_event(event: EngineEvent) -> None:
        stamps.append(time.monotonic())
        if len(stamps) == 1:
            control.pause()
            threading.Timer(0.3, control.resume).start()

    StepLoop(optimizer, scheduler, control=control, emit=on_event).run_epoch(1, BATCHES[:2], load, loss_of)
    assert stamps[1] - stamps[0] >= 0.25


def test_a_non_finite_loss_names_epoch_and_batch_before_any_update() -> None:
    model, optimizer, scheduler, load, _ = regression()
    before = [p.detach().clone() for p in model.parameters()]

    def nan_loss(batch: tuple[torch.Tensor, torch.Tensor]) -> StepOutput:
        return StepOutput(model(batch[0]).sum() * float("nan"), len(batch[1]))

    with pytest.raises(NonFiniteLoss) as bad:
        StepLoop(optimizer, scheduler).run_epoch(4, BATCHES, load, nan_loss)
    assert (bad.value.epoch, bad.value.batch) == (4, 1)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_out_of_memory_splits_the_batch_when_the_caller_allows_it() -> None:
    _, optimizer, scheduler, load, loss_of = regression()

    def small_only(batch: tuple[torch.Tensor, torch.Tensor]) -> StepOutput:
        if len(batch[1]) > 3:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return loss_of(batch)

    with pytest.raises(torch.OutOfMemoryError):
        StepLoop(optimizer, scheduler).run_epoch(1, BATCHES, load, small_only)
    told: list[tuple[int, int]] = []
    result = StepLoop(optimizer, scheduler, on_oom=lambda old, new: told.append((old, new))).run_epoch(
        1, BATCHES, load, small_only)
    assert result.images == 24 and told[0] == (6, 3)


def test_train_state_reads_a_checkpoint_and_writes_the_same_keys() -> None:
    saved = {"model": {}, "optimizer": {}, "epoch": 3, "next_batch": 2, "partial": {"count": 4.0}, "best_value": 0.5,
             "best_epoch": 2, "best_metrics": {"val_loss": 0.5}, "stale_epochs": 1, "history": [{"epoch": 1}]}
    state = TrainState.from_checkpoint(saved)
    assert (state.epoch, state.next_batch, state.best_epoch, state.stale_epochs) == (3, 2, 2, 1)
    assert state.to_checkpoint() == {k: v for k, v in saved.items() if k not in ("model", "optimizer")}


# --- the callers ------------------------------------------------------------------------------------


def test_pretraining_uses_the_chosen_optimizer_and_schedule(shapes_dataset: Path, tmp_path: Path) -> None:
    config = strategy_config(shapes_dataset, tmp_path / "runs", "autoencoder", epochs=1, pretrain_epochs=2,
                             pretrain_batch_size=16, pretrain_lr=2e-3)
    tcfg = config.training
    tcfg.optimizer, tcfg.momentum, tcfg.nesterov = "sgd", 0.8, True
    tcfg.scheduler, tcfg.step_size, tcfg.gamma = "step", 1, 0.25
    events = CollectingCallback()
    result = train(config, events)
    assert result.status == "completed", result.reason
    batches = [e for e in events.of_type(BatchEnded) if e.phase == "pretraining"]
    steps = batches[0].batches
    assert [e.lr for e in batches] == pytest.approx([2e-3] * steps + [2e-3 * 0.25] * steps)
    epochs = [e.lr for e in events.of_type(EpochEnded) if e.phase == "pretraining"]
    assert epochs == pytest.approx([2e-3, 2e-3 * 0.25])
    group = load_checkpoint(result.run_dir / "checkpoints" / "pretrain_autoencoder.pt")["optimizer"]["param_groups"][0]
    assert group["momentum"] == 0.8 and group["nesterov"] is True, "SGD, as the training settings say"


def test_metric_learning_logs_the_rate_of_each_step(shapes_dataset: Path, tmp_path: Path) -> None:
    config = strategy_config(shapes_dataset, tmp_path / "runs", "metric_learning", epochs=3)
    tcfg = config.training
    tcfg.batch_size, tcfg.scheduler, tcfg.step_size, tcfg.gamma = 32, "step", 1, 0.5
    events = CollectingCallback()
    assert train(config, events).status == "completed"
    batches = [e for e in events.of_type(BatchEnded) if e.phase == "metric_learning"]
    assert batches[0].batches > 1 and len(batches) == 3 * batches[0].batches
    assert [e.lr for e in batches] == pytest.approx([tcfg.lr * 0.5 ** (e.epoch - 1) for e in batches])
    assert [e.global_step for e in batches] == list(range(1, len(batches) + 1))


class GradientNorms(Monitor):
    """Records the total gradient norm the model had at each step."""

    def setup(self, context) -> None:
        self.model, self.norms = context.model, []

    def on_step(self, step, epoch, loss, x, y, logits) -> None:
        grads = [p.grad.flatten() for p in self.model.parameters() if p.grad is not None]
        self.norms.append(float(torch.linalg.vector_norm(torch.cat(grads))))


def test_the_engine_clips_gradients_when_asked(tiny_project) -> None:
    free, clipped = GradientNorms(), GradientNorms()
    tiny_project.training.epochs = 1
    assert train(tiny_project, monitors=[free]).status == "completed"
    cap = float(np.median(free.norms)) / 2
    tiny_project.training.grad_clip_norm = cap
    assert train(tiny_project, monitors=[clipped]).status == "completed"
    assert max(free.norms) > cap * 1.5 and max(clipped.norms) <= cap * (1 + 1e-5)


# --- the epoch loop and its hooks --------------------------------------------------------------------


def test_each_epoch_saves_then_announces_and_last_pt_holds_the_epoch(tiny_project) -> None:
    from workbench.core.events import CheckpointSaved

    events = CollectingCallback()
    result = train(tiny_project, events)
    epoch_events = [e for e in events.events if isinstance(e, (CheckpointSaved, EpochEnded))]
    assert [(type(e).__name__, getattr(e, "kind", ""), e.epoch) for e in epoch_events][:3] == [
        ("CheckpointSaved", "last", 1), ("CheckpointSaved", "best", 1), ("EpochEnded", "", 1)]
    saved = load_checkpoint(result.run_dir / "checkpoints" / "last.pt")
    assert saved["epoch"] == 2 and [h["epoch"] for h in saved["history"]] == [1, 2]
    assert saved["best_epoch"] == result.best_epoch and saved["best_metrics"] == result.best_metrics
