"""The epoch loop of a supervised run: train an epoch, validate it, and let the hooks decide and save.

Each epoch runs the strategy's epoch start, the step loop over the epoch's batches (or the strategy's
own `fit`), then validation. The hooks (hooks.py) then pick the best epoch, write the checkpoints, keep
the index current and may stop early. A stop request between batches ends in the hooks' `on_stop`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from workbench.core.evaluation.metrics import classification_metrics
from workbench.core.events import EpochEnded, FindingRaised
from workbench.core.training import distributed
from workbench.core.training.hooks import EpochHook, monitored_value
from workbench.core.training.loop import evaluate, supervised_loss
from workbench.core.training.monitors import Monitor
from workbench.core.training.setup import TrainingRun
from workbench.core.training.state import EpochRecord, TrainState
from workbench.core.training.steps import StepLoop, StepOutput, StopRequested


class EpochLoop:
    """Runs the epochs of `run` from `state` on; `status` ends as "completed", "early_stopped" or "stopped"."""

    def __init__(self, run: TrainingRun, state: TrainState, monitors: list[Monitor], hooks: list[EpochHook]) -> None:
        self.run, self.state, self.monitors, self.hooks = run, state, monitors, hooks
        self.status = "completed"
        self.should_stop = False
        self.steps = StepLoop(
            run.optimizer, run.scheduler, emit=run.emit, step=state.epoch * run.steps_per_epoch + state.next_batch,
            control=run.control, device_type=run.device.type, amp_dtype=run.amp_dtype, scaler=run.scaler,
            clip_grad_norm=run.config.training.grad_clip_norm, world_size=run.ctx.world_size,
            on_step=self._monitor_step if monitors else None, on_oom=self._on_oom,
        )

    def run_epochs(self) -> str:
        """Train until the last epoch, an early stop or the strategy's single fit; StopRequested propagates
        after the hooks saved the position (the engine reports the stop)."""
        epoch = self.state.epoch + 1
        while epoch <= self.run.config.training.epochs:
            try:
                record = self.train_epoch(epoch)
            except StopRequested as stop:
                for hook in self.hooks:
                    hook.on_stop(self, stop)
                self.status = "stopped"
                raise
            self.state.epoch = epoch
            self.state.history.append(record.history_entry())  # before the hooks: last.pt holds this epoch
            self._call("on_validation_end", record)
            self._call("on_save", record)
            self._announce(record)
            self._call("on_epoch_end", record)
            if self.should_stop or self.run.strategy.replaces_training():  # one fit is the whole training
                break
            epoch += 1
        return self.status

    def _call(self, name: str, record: EpochRecord) -> None:
        for hook in self.hooks:
            getattr(hook, name)(self, record)

    def train_epoch(self, epoch: int) -> EpochRecord:
        run, state, tcfg = self.run, self.state, self.run.config.training
        torch.manual_seed(tcfg.seed * 1000 + epoch * 10 + run.ctx.rank)
        run.strategy.on_epoch_start(epoch, run.model, run.optimizer, run.sctx)
        source = run.train_source
        order = run.strategy.select_indices(epoch, source.epoch_order(epoch, tcfg.seed), run.sctx)
        data_fraction = len(np.unique(order)) / max(1, len(source.indices) // run.ctx.world_size)
        if run.strategy.replaces_training():
            result = run.strategy.fit(run.model, run.sctx)
        else:
            run.train_model.train()
            result = self.steps.run_epoch(epoch, source.batches(order), lambda rows: source.load(rows, augment=True),
                                          supervised_loss(run.train_model, run.loss_fn),
                                          start_batch=state.next_batch, partial=state.partial or None)
        state.next_batch, state.partial = 0, {}
        loss_sum, count = distributed.all_sum([result.loss * result.images, float(result.images)], run.ctx, run.device)
        train_loss = loss_sum / max(count, 1.0)
        metrics: dict = {}
        val_loss = math.nan
        validation = None
        if run.has_validation:
            val = self._validate(last=epoch >= tcfg.epochs)
            metrics = classification_metrics(val["labels"], np.asarray(val["probs"]).argmax(1), run.data.class_names)
            val_loss = float(val["loss"])
            validation = {"rows": np.asarray(run.val_source.indices), "labels": np.asarray(val["labels"]),
                          "probs": np.asarray(val["probs"])}
            if "features" in val:
                validation["features"] = val["features"]
        value = monitored_value(tcfg.monitor, train_loss, {**metrics, "loss": val_loss}, run.has_validation)
        # The rate the epoch trained with: the scheduler has already moved on to the next step's rate.
        lr = result.lr if result.lr is not None else run.optimizer.param_groups[0]["lr"]
        return EpochRecord(epoch, result, train_loss, val_loss, metrics, value, lr, min(1.0, data_fraction),
                           validation=validation)

    def _validate(self, last: bool) -> dict:
        """The validation pass; the last epoch's also keeps the penultimate features (the same forward pass), which
        the end-of-run feature check reads instead of running the model again."""
        run = self.run
        if last:
            try:
                return evaluate(run.model, run.val_source, nn.CrossEntropyLoss(), run.amp_dtype, with_features=True)
            except (AttributeError, TypeError, NotImplementedError):  # a model without a separable head
                pass
        return evaluate(run.model, run.val_source, nn.CrossEntropyLoss(), run.amp_dtype)

    def _announce(self, record: EpochRecord) -> None:
        """EpochEnded, then the monitors' epoch hooks, with the history entry of the epoch."""
        run, result = self.run, record.result
        entry = self.state.history[-1]
        single_fit = run.strategy.replaces_training()  # one fit: no "epoch 1/15", no learning rate to report
        run.emit(EpochEnded(record.epoch, 1 if single_fit else run.config.training.epochs, record.train_loss,
                            record.val_loss, result.accuracy, record.metrics, record.lr, result.seconds, record.is_best,
                            data_fraction=record.data_fraction, single_fit=single_fit))
        for monitor in self.monitors:
            monitor.on_epoch_end(record.epoch, {**entry, "metrics": record.metrics, "is_best": record.is_best,
                                                "validation": record.validation})

    def _monitor_step(self, step: int, epoch: int, out: StepOutput) -> None:
        x, y, logits = out.batch
        loss_value = float(self.run.loss_fn(logits.detach().float(), y))
        for monitor in self.monitors:
            monitor.on_step(step, epoch, loss_value, x, y, logits)

    def _on_oom(self, old: int, new: int) -> None:
        self.run.train_source.batch_size = new  # later batches are built at the smaller size
        self.run.emit(FindingRaised(
            "out-of-memory", "warning", "Out of memory: batch size halved",
            f"A batch of {old} images did not fit in the memory of {self.run.device}. It was retried as two halves, "
            f"and training goes on with batches of {new}.",
            f"Set the batch size to {new} (or lower the image size) to avoid the retry.",
            {"old_batch_size": old, "new_batch_size": new, "patch": {"training.batch_size": new}}, pane="strategy"))
