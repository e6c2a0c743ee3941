"""Epoch hooks of a supervised run: best epoch, checkpoints, the run index and early stopping are hooks.

After Lightning's callbacks: each hook is a no-op by default, with a one-line docstring. The epoch loop
(epochs.py) calls them in list order, phase by phase, so one hook's decision (the best epoch) is known
to the next phase's hooks (the checkpoint that saves it).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from workbench.core.events import CheckpointSaved, LogMessage
from workbench.core.training.monitors import save_monitor_states

if TYPE_CHECKING:
    from workbench.core.training.epochs import EpochLoop
    from workbench.core.training.state import EpochRecord
    from workbench.core.training.steps import StopRequested

MAXIMISE = {"val_accuracy", "val_balanced_accuracy", "val_macro_f1"}


def monitored_value(name: str, train_loss: float, val: dict, has_val: bool) -> float:
    """The quantity `training.monitor` names; the training loss when there is no validation split."""
    if not has_val:
        return train_loss
    if name == "val_loss":
        return float(val["loss"])
    return float(val[name.removeprefix("val_")])


def improved(name: str, value: float, best: float | None) -> bool:
    if best is None or math.isnan(best):
        return not math.isnan(value)
    return value > best if name in MAXIMISE else value < best


class EpochHook:
    """Base class: override the hooks you need."""

    def on_validation_end(self, loop: EpochLoop, record: EpochRecord) -> None:
        """Called after an epoch was validated, before anything is saved: decide and record."""

    def on_save(self, loop: EpochLoop, record: EpochRecord) -> None:
        """Called to write and announce the epoch's checkpoints, before EpochEnded."""

    def on_epoch_end(self, loop: EpochLoop, record: EpochRecord) -> None:
        """Called after EpochEnded was emitted and the monitors saw the epoch; may set `loop.should_stop`."""

    def on_stop(self, loop: EpochLoop, stop: StopRequested) -> None:
        """Called when the user stopped the run between batches, so that it can be resumed."""


class BestEpoch(EpochHook):
    """Decides whether the epoch is the best so far (training.monitor) and keeps its weights in best.pt."""

    def on_validation_end(self, loop: EpochLoop, record: EpochRecord) -> None:
        state, monitor = loop.state, loop.run.config.training.monitor
        record.is_best = improved(monitor, record.value, state.best_value)
        if record.is_best:
            state.best_value, state.best_epoch, state.stale_epochs = record.value, record.epoch, 0
            state.best_metrics = {"val_loss": record.val_loss, **record.headline}
            loop.run.save_best(record.epoch)
        else:
            state.stale_epochs += 1

    def on_save(self, loop: EpochLoop, record: EpochRecord) -> None:
        if record.is_best:  # announced after last.pt, which holds the state that names this epoch best
            loop.run.emit(CheckpointSaved(record.epoch, str(loop.run.best_path), "best"))


class LastCheckpoint(EpochHook):
    """Writes last.pt after every epoch and on a stop, so any run can be resumed."""

    def on_save(self, loop: EpochLoop, record: EpochRecord) -> None:
        loop.run.save_last(loop.state, record.epoch)
        if loop.run.ctx.is_main:
            loop.run.emit(CheckpointSaved(record.epoch, str(loop.run.last_path), "last"))

    def on_stop(self, loop: EpochLoop, stop: StopRequested) -> None:
        epoch_done = loop.state.epoch
        loop.run.save_last(loop.state, epoch_done, stop.next_batch, stop.partial)
        if loop.run.ctx.is_main:
            loop.run.emit(CheckpointSaved(epoch_done, str(loop.run.last_path), "stop"))


class MonitorStates(EpochHook):
    """Saves what the monitors (the pitfall doctor) saw beside the checkpoint, so Resume continues with it."""

    def on_epoch_end(self, loop: EpochLoop, record: EpochRecord) -> None:
        if loop.run.ctx.is_main:  # after the monitors' epoch hooks, so this epoch is included
            save_monitor_states(loop.run.run_dir / "checkpoints", loop.monitors, record.epoch)

    def on_stop(self, loop: EpochLoop, stop: StopRequested) -> None:
        if loop.run.ctx.is_main:
            save_monitor_states(loop.run.run_dir / "checkpoints", loop.monitors, loop.state.epoch)


class RunIndex(EpochHook):
    """Keeps the best epoch in the runs index up to date while the run goes on."""

    def on_epoch_end(self, loop: EpochLoop, record: EpochRecord) -> None:
        if loop.run.store is not None:
            state = loop.state
            loop.run.store.update(loop.run.run_id, best_epoch=int(state.best_epoch), best_metrics=state.best_metrics)


class EarlyStopping(EpochHook):
    """Ends the run when training.monitor has not improved for training.early_stopping_patience epochs."""

    def __init__(self, patience: int) -> None:
        self.patience = patience

    def on_epoch_end(self, loop: EpochLoop, record: EpochRecord) -> None:
        state = loop.state
        if state.stale_epochs >= self.patience:
            loop.should_stop, loop.status = True, "early_stopped"
            loop.run.emit(LogMessage("info", f"early stopping: no improvement of {loop.run.config.training.monitor} "
                                             f"for {state.stale_epochs} epochs; best epoch {state.best_epoch}"))


def default_hooks(patience: int, replaces_training: bool) -> list[EpochHook]:
    """The engine's hooks. LastCheckpoint precedes BestEpoch so that last.pt is announced first, as ever."""
    hooks: list[EpochHook] = [LastCheckpoint(), BestEpoch(), MonitorStates(), RunIndex()]
    if patience and not replaces_training:  # a strategy's own fit is one epoch: nothing to stop early
        hooks.append(EarlyStopping(patience))
    return hooks
