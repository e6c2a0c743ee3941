"""The one optimisation-step loop, shared by supervised training, pretraining and metric learning.

`StepLoop.run_epoch` runs forward, backward, optimizer and scheduler steps over a list of batches, with
mixed precision (AMP and its gradient scaler), gradient clipping, the pause/stop token, BatchEnded events
and a per-step hook for monitors. What differs between the callers is only how a batch is loaded and
what its loss is: they pass those two functions. The rate logged for a step is the rate that step used
(read before `scheduler.step()`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from workbench.core.events import BatchEnded, EngineEvent
from workbench.core.training.control import RunControl


class StopRequested(Exception):
    """Raised between batches when the user asked to stop; carries where the epoch got to."""

    def __init__(self, next_batch: int, partial: dict[str, float]) -> None:
        super().__init__("stop requested")
        self.next_batch = next_batch
        self.partial = partial


class NonFiniteLoss(Exception):
    def __init__(self, epoch: int, batch: int, value: float) -> None:
        super().__init__(f"the loss became {value} at epoch {epoch}, batch {batch}")
        self.epoch, self.batch, self.value = epoch, batch, value


@dataclass
class StepOutput:
    """What one batch's loss function returns."""

    loss: torch.Tensor  # scalar, still attached to the graph
    images: int
    correct: float = 0.0  # correct predictions, for the training accuracy (0 where there are no classes)
    batch: tuple[torch.Tensor, ...] = ()  # (x, y, logits) for the monitors of supervised training


@dataclass
class EpochResult:
    loss: float
    accuracy: float
    images: int
    seconds: float
    extra: dict[str, float] = field(default_factory=dict)
    lr: float | None = None  # the rate of the epoch's last optimisation step (None: no step ran here)


Loader = Callable[[np.ndarray], Any]  # batch rows -> the batch on the device (outside autocast)
LossFunction = Callable[[Any], StepOutput]  # batch -> forward pass and loss (run under autocast)
StepHook = Callable[[int, int, StepOutput], None]  # step number (1-based), epoch, output; gradients present


class StepLoop:
    """Optimisation steps over batches; one instance lives for a whole training stage and counts its steps.

    `on_oom(old, new)`: when given, a batch that does not fit in the device's memory is retried as two
    halves and `on_oom` is told the new batch size; without it the error propagates.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        *,
        emit: Callable[[EngineEvent], None] | None = None,
        phase: str = "supervised",
        step: int = 0,
        control: RunControl | None = None,
        device_type: str = "cpu",
        amp_dtype: torch.dtype | None = None,
        scaler: torch.amp.GradScaler | None = None,
        clip_grad_norm: float = 0.0,
        world_size: int = 1,
        on_step: StepHook | None = None,
        on_oom: Callable[[int, int], None] | None = None,
    ) -> None:
        self.optimizer, self.scheduler = optimizer, scheduler
        self.emit, self.phase, self.step = emit, phase, step
        self.control = control
        self.device_type, self.amp_dtype, self.scaler = device_type, amp_dtype, scaler
        self.clip_grad_norm = clip_grad_norm
        self.world_size = world_size
        self.on_step, self.on_oom = on_step, on_oom

    @property
    def lr(self) -> float:
        """The rate the next optimisation step will use."""
        return float(self.optimizer.param_groups[0]["lr"])

    def run_epoch(
        self,
        epoch: int,
        batches: list[np.ndarray],
        load: Loader,
        loss_of: LossFunction,
        *,
        start_batch: int = 0,
        partial: dict[str, float] | None = None,
    ) -> EpochResult:
        """Train on `batches[start_batch:]`; `partial` carries the sums of a stopped epoch being resumed."""
        sums = {"loss": 0.0, "correct": 0.0, "count": 0.0, "seconds": 0.0, **(partial or {})}
        started = time.perf_counter()
        step_lr: float | None = None
        for b in range(start_batch, len(batches)):
            if self.control is not None and not self.control.wait_while_paused():
                raise StopRequested(b, dict(sums, seconds=sums["seconds"] + time.perf_counter() - started))
            tick = time.perf_counter()
            pending = [batches[b]]
            while pending:  # more than one entry only after an out-of-memory split
                rows = pending.pop(0)
                step_lr = self.lr  # before scheduler.step(): the rate this step uses
                try:
                    value, out = self._step(rows, load, loss_of, epoch, b)
                except torch.OutOfMemoryError:
                    if self.on_oom is None or len(rows) < 2:
                        raise
                    self.optimizer.zero_grad(set_to_none=True)
                    if self.device_type == "cuda":
                        torch.cuda.empty_cache()
                    half = len(rows) // 2
                    pending[:0] = [rows[:half], rows[half:]]
                    self.on_oom(len(rows), max(1, half))
                    continue
                sums["loss"] += value * out.images
                sums["correct"] += out.correct
                sums["count"] += out.images
            self.step += 1
            if self.emit is not None:
                speed = len(batches[b]) / max(time.perf_counter() - tick, 1e-9)
                self.emit(BatchEnded(epoch, b + 1, len(batches), value, float(step_lr), speed * self.world_size,
                                     self.step, self.phase))
        sums["seconds"] += time.perf_counter() - started
        count = max(sums["count"], 1.0)
        return EpochResult(sums["loss"] / count, sums["correct"] / count, int(sums["count"]), sums["seconds"],
                           lr=step_lr)

    def _step(self, rows: np.ndarray, load: Loader, loss_of: LossFunction, epoch: int,
              b: int) -> tuple[float, StepOutput]:
        """One optimisation step on `rows`; returns the loss value and the loss function's output."""
        batch = load(rows)
        with torch.autocast(self.device_type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            out = loss_of(batch)
        value = float(out.loss.detach())
        if not math.isfinite(value):
            raise NonFiniteLoss(epoch, b + 1, value)
        optimizer, scaler = self.optimizer, self.scaler
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(out.loss).backward()
            if self.clip_grad_norm > 0:
                scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
                self._clip()
            scaler.step(optimizer)
            scaler.update()
        else:
            out.loss.backward()
            if self.clip_grad_norm > 0:
                self._clip()
            optimizer.step()
        if self.on_step is not None:
            self.on_step(self.step + 1, epoch, out)
        self.scheduler.step()
        return value, out

    def _clip(self) -> None:
        params = [p for group in self.optimizer.param_groups for p in group["params"] if p.grad is not None]
        torch.nn.utils.clip_grad_norm_(params, self.clip_grad_norm)
