"""One epoch of training, and evaluation of a model on a split: the two halves of the training loop.

Batches are drawn from the decoded-image cache, augmented per image, normalised and moved to the device.
The epoch's order comes from (seed, epoch) alone, so a resumed run sees the same batches.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from workbench.core.data.pipeline import PreparedData
from workbench.core.data.stats import NormStats, normalize
from workbench.core.data.transforms import augment_batch
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
class BatchSource:
    """Index arrays into the cache, turned into device tensors ready for the model."""

    data: PreparedData
    indices: np.ndarray
    batch_size: int
    device: torch.device
    stats: NormStats
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None
    channels_last: bool = False
    shard: Callable[[int], np.ndarray] | None = None  # DDP: the epoch's indices of this rank

    def epoch_order(self, epoch: int, seed: int) -> np.ndarray:
        if self.shard is not None:
            return self.indices[self.shard(epoch)]
        rng = np.random.default_rng([seed, epoch])
        return self.indices[rng.permutation(len(self.indices))]

    def batches(self, order: np.ndarray) -> list[np.ndarray]:
        chunks = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if len(chunks) > 1 and len(chunks[-1]) == 1:  # a batch of one breaks batch normalisation
            chunks[-2] = np.concatenate([chunks[-2], chunks[-1]])
            chunks.pop()
        return chunks

    def load(self, idx: np.ndarray, augment: bool) -> tuple[torch.Tensor, torch.Tensor]:
        rows = np.sort(idx) if self.data.images.on_disk else idx
        x = torch.from_numpy(np.asarray(self.data.images.array[rows])).float().div_(self.data.images.value_scale)
        if augment:
            x = augment_batch(x, self.transform)
        x = normalize(x, self.stats)
        y = torch.from_numpy(self.data.labels[rows])
        non_blocking = self.device.type == "cuda"
        if self.device.type == "cuda":
            x = x.pin_memory()
        x = x.to(self.device, non_blocking=non_blocking)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y.to(self.device, non_blocking=non_blocking)


@dataclass
class EpochResult:
    loss: float
    accuracy: float
    images: int
    seconds: float
    extra: dict[str, float] = field(default_factory=dict)
    lr: float | None = None  # the rate of the epoch's last optimisation step (None: no step ran here)


BatchHook = Callable[[int, int, float, float, float], None]  # batch, batches, loss, lr, images/s


def train_one_epoch(
    model: nn.Module,
    source: BatchSource,
    batches: list[np.ndarray],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    loss_fn: nn.Module,
    *,
    epoch: int,
    start_batch: int = 0,
    partial: dict[str, float] | None = None,
    scaler: torch.amp.GradScaler | None = None,
    amp_dtype: torch.dtype | None = None,
    control: RunControl | None = None,
    on_batch: BatchHook | None = None,
    on_step: Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor], None] | None = None,
    on_oom: Callable[[int, int], None] | None = None,
) -> EpochResult:
    """Train on `batches[start_batch:]`; `partial` carries the sums of a stopped epoch being resumed.

    When a batch does not fit in the device's memory, it is retried as two halves and the batch size
    is halved for the rest of the run; `on_oom(old, new)` is told.
    """
    model.train()
    sums = {"loss": 0.0, "correct": 0.0, "count": 0.0, "seconds": 0.0, **(partial or {})}
    started = time.perf_counter()
    step_lr: float | None = None
    for b in range(start_batch, len(batches)):
        if control is not None and not control.wait_while_paused():
            raise StopRequested(b, dict(sums, seconds=sums["seconds"] + time.perf_counter() - started))
        tick = time.perf_counter()
        pending = [batches[b]]
        while pending:  # more than one entry only after an out-of-memory split
            idx = pending.pop(0)
            step_lr = optimizer.param_groups[0]["lr"]  # before scheduler.step(): the rate this step uses
            try:
                value, correct, n = _train_step(model, source, idx, optimizer, scheduler, loss_fn, scaler, amp_dtype,
                                                epoch, b, on_step)
            except torch.OutOfMemoryError:
                if len(idx) < 2:
                    raise
                optimizer.zero_grad(set_to_none=True)
                if source.device.type == "cuda":
                    torch.cuda.empty_cache()
                source.batch_size = max(1, len(idx) // 2)  # later batches are built at the smaller size
                half = len(idx) // 2
                pending[:0] = [idx[:half], idx[half:]]
                if on_oom is not None:
                    on_oom(len(idx), source.batch_size)
                continue
            sums["loss"] += value * n
            sums["correct"] += correct
            sums["count"] += n
        if on_batch is not None:
            elapsed = max(time.perf_counter() - tick, 1e-9)
            on_batch(b + 1, len(batches), value, step_lr, len(batches[b]) / elapsed)
    sums["seconds"] += time.perf_counter() - started
    count = max(sums["count"], 1.0)
    return EpochResult(sums["loss"] / count, sums["correct"] / count, int(sums["count"]), sums["seconds"],
                       lr=step_lr)


def _train_step(model: nn.Module, source: BatchSource, idx: np.ndarray, optimizer: torch.optim.Optimizer,
                scheduler: torch.optim.lr_scheduler.LRScheduler, loss_fn: nn.Module,
                scaler: torch.amp.GradScaler | None, amp_dtype: torch.dtype | None, epoch: int, b: int,
                on_step: Callable | None) -> tuple[float, float, int]:
    """One optimisation step on the images `idx`; returns (loss, correct predictions, images)."""
    x, y = source.load(idx, augment=True)
    with torch.autocast(source.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        logits = model(x)
        loss = loss_fn(logits, y)
    value = float(loss.detach())
    if not math.isfinite(value):
        raise NonFiniteLoss(epoch, b + 1, value)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    if on_step is not None:
        on_step(model, x, y, logits)
    scheduler.step()
    return value, float((logits.detach().argmax(1) == y).sum()), len(y)


@torch.no_grad()
def predict(
    model: nn.Module,
    source: BatchSource,
    amp_dtype: torch.dtype | None = None,
    with_features: bool = False,
) -> dict[str, np.ndarray]:
    """Logits-derived probabilities, labels (and optionally penultimate features) for all of `source.indices`."""
    from workbench.core.models.factory import penultimate_features

    model.eval()
    probs, labels, feats = [], [], []
    device_type = source.device.type
    for idx in source.batches(source.indices):
        x, y = source.load(idx, augment=False)
        with torch.autocast(device_type, dtype=amp_dtype, enabled=amp_dtype is not None):
            if with_features:
                inner = getattr(model, "module", model)
                f = penultimate_features(inner, x)
                logits = _head(inner, f)
                feats.append(f.float().cpu().numpy())
            else:
                logits = model(x)
        probs.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
        labels.append(y.cpu().numpy())
    out = {
        "probs": np.concatenate(probs) if probs else np.zeros((0, len(source.data.class_names)), np.float32),
        "labels": np.concatenate(labels) if labels else np.zeros(0, np.int64),
    }
    if with_features:
        out["features"] = np.concatenate(feats) if feats else np.zeros((0, 0), np.float32)
    return out


def _head(model: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """Logits from penultimate features (avoids a second forward pass)."""
    if hasattr(model, "classifier") and hasattr(model, "dropout") and hasattr(model, "forward_features"):
        return model.classifier(model.dropout(features))
    head = model.get_classifier()
    return head(features)


def evaluate(
    model: nn.Module, source: BatchSource, loss_fn: nn.Module, amp_dtype: torch.dtype | None = None,
    with_features: bool = False,
) -> dict[str, np.ndarray | float]:
    """Predictions plus the mean loss over `source`."""
    out: dict[str, np.ndarray | float] = dict(predict(model, source, amp_dtype, with_features))
    probs, labels = out["probs"], out["labels"]
    assert isinstance(probs, np.ndarray) and isinstance(labels, np.ndarray)
    if len(labels):
        logp = torch.log(torch.from_numpy(probs).clamp_min(1e-12))
        out["loss"] = float(nn.functional.nll_loss(logp, torch.from_numpy(labels)))
    else:
        out["loss"] = float("nan")
    return out
