"""Batches of the cache, the supervised loss of the step loop (steps.py), and evaluation of a model on a split.

Batches are drawn from the decoded-image cache, augmented per image, normalised and moved to the device.
The epoch's order comes from (seed, epoch) alone, so a resumed run sees the same batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from workbench.core.data.pipeline import PreparedData
from workbench.core.data.stats import NormStats, normalize
from workbench.core.data.transforms import augment_batch
from workbench.core.events import BatchEnded, EngineEvent
from workbench.core.training.control import RunControl
from workbench.core.training.steps import EpochResult, NonFiniteLoss, StepLoop, StepOutput, StopRequested

__all__ = ["BatchSource", "EpochResult", "NonFiniteLoss", "StopRequested", "evaluate", "predict", "train_one_epoch"]


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


BatchHook = Callable[[int, int, float, float, float], None]  # batch, batches, loss, lr, images/s


class _BatchHookEmitter:
    """Adapts a `BatchHook` to the step loop's BatchEnded events."""

    def __init__(self, hook: BatchHook) -> None:
        self.hook = hook

    def __call__(self, event: EngineEvent) -> None:
        if isinstance(event, BatchEnded):
            self.hook(event.batch, event.batches, event.loss, event.lr, event.images_per_second)


def supervised_loss(model: nn.Module, loss_fn: nn.Module) -> Callable[[tuple[torch.Tensor, torch.Tensor]], StepOutput]:
    """The step loop's loss function for classification: logits, loss, correct predictions."""

    def loss_of(batch: tuple[torch.Tensor, torch.Tensor]) -> StepOutput:
        x, y = batch
        logits = model(x)
        return StepOutput(loss_fn(logits, y), len(y), float((logits.detach().argmax(1) == y).sum()), (x, y, logits))

    return loss_of


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
    """One supervised epoch through a `StepLoop` (for callers that train a side model, like the curriculum's
    scoring network); `partial` carries the sums of a stopped epoch being resumed.

    When a batch does not fit in the device's memory, it is retried as two halves and the batch size
    is halved for the rest of the run; `on_oom(old, new)` is told.
    """

    def halve(old: int, new: int) -> None:
        source.batch_size = new  # later batches are built at the smaller size
        if on_oom is not None:
            on_oom(old, new)

    def step_hook(_step: int, _epoch: int, out: StepOutput) -> None:
        assert on_step is not None
        on_step(model, *out.batch)

    loop = StepLoop(optimizer, scheduler, emit=_BatchHookEmitter(on_batch) if on_batch else None, control=control,
                    device_type=source.device.type, amp_dtype=amp_dtype, scaler=scaler,
                    on_step=step_hook if on_step else None, on_oom=halve)
    model.train()
    return loop.run_epoch(epoch, batches, lambda rows: source.load(rows, augment=True), supervised_loss(model, loss_fn),
                          start_batch=start_batch, partial=partial)


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
