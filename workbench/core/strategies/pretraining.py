"""A pretraining stage before supervised training (self-supervised or autoencoder), shown like a supervised run.

It runs from the first `on_epoch_start`, after RunStarted, so the front end sees its batches and epochs
(events with phase="pretraining"), a kNN accuracy of the features on the validation images, and a live
PCA projection of them. Its steps run through the shared step loop (training/steps.py), with the
training optimizer and schedule at strategy.pretrain_lr. It honours pause and stop; a checkpoint after
each pretraining epoch lets a stopped run continue where pretraining stopped. Afterwards the network is transferred (frozen, new head)
or fine-tuned, as in transfer.py.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.core.config import ConfigError, ProjectConfig, TrainingConfig, with_updates
from workbench.core.data.stats import normalize
from workbench.core.events import EpochEnded, LogMessage, ProjectionReady
from workbench.core.models.heads import start_head_small
from workbench.core.run_folder import RunFolder
from workbench.core.strategies.base import StrategyContext
from workbench.core.strategies.common import embed, knn_predict, source_for, write_report
from workbench.core.strategies.unfreezing import PlannedStrategy, UnfreezePlan
from workbench.core.strategies.unlabelled import PretrainImages, pretraining_images
from workbench.core.training.checkpoints import load_checkpoint, save_checkpoint
from workbench.core.training.optim import build_optimizer, build_scheduler
from workbench.core.training.steps import NonFiniteLoss, StepLoop, StepOutput, StopRequested

PHASE = "pretraining"
MONITOR_IMAGES = 2000  # labelled images used for the kNN accuracy and the projection, at most


class PretrainTask(nn.Module):
    """A pretext task around the classifier network `model`; `forward` takes a 0–1 batch and returns the loss."""

    def __init__(self, model: nn.Module, context: StrategyContext) -> None:
        super().__init__()
        self.model = model
        self.stats = context.data.stats
        self.device = context.device

    def prepare(self, batch: torch.Tensor) -> torch.Tensor:
        """A 0–1 batch normalised as the classifier will see it, on the device."""
        return normalize(batch, self.stats).to(self.device)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Features of normalised images (the classifier's penultimate layer), for monitoring."""
        from workbench.core.models.factory import penultimate_features

        return penultimate_features(self.model, x)

    def after_step(self, progress: float) -> None:
        """Called after each optimisation step with the share of pretraining done (BYOL's moving average)."""


def _subsample(indices: np.ndarray, limit: int) -> np.ndarray:
    if len(indices) <= limit:
        return indices
    return indices[np.linspace(0, len(indices) - 1, limit).astype(np.int64)]


def _pca_2d(features: np.ndarray) -> np.ndarray:
    centred = features - features.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T if vt.shape[0] >= 2 else np.zeros((len(features), 2))


class PretrainMonitor:
    """Validation loss of the pretext task, kNN accuracy of the features, and a projection, after each epoch."""

    def __init__(self, context: StrategyContext) -> None:
        self.context = context
        data = context.data
        self.train = source_for(context, _subsample(data.indices("train"), MONITOR_IMAGES), 256)
        self.val = source_for(context, _subsample(data.indices("val"), MONITOR_IMAGES), 256)

    @torch.no_grad()
    def val_loss(self, task: PretrainTask, seed: int) -> float:
        if not len(self.val.indices):
            return math.nan
        data = self.context.data
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # the same random views every epoch, so the curve is comparable
            total, count = 0.0, 0
            for rows in self.val.batches(self.val.indices):
                if len(rows) < 2:
                    continue
                x = torch.from_numpy(np.asarray(data.images.array[rows])).float().div_(data.images.value_scale)
                total += float(task(x)) * len(rows)
                count += len(rows)
        return total / count if count else math.nan

    def epoch_end(self, task: PretrainTask, epoch: int) -> dict[str, float]:
        context = self.context
        task.eval()
        bank, bank_labels = embed(task.encode, self.train, context.control)
        query, query_labels = embed(task.encode, self.val, context.control) if len(self.val.indices) else (bank, bank_labels)
        k = context.config.strategy.neighbours
        bank_t = nn.functional.normalize(torch.from_numpy(bank), dim=1)
        query_t = nn.functional.normalize(torch.from_numpy(query), dim=1)
        predicted, _ = knn_predict(query_t, bank_t, torch.from_numpy(bank_labels), k, len(context.data.class_names),
                                   exclude_self=not len(self.val.indices))
        accuracy = float((predicted.numpy() == query_labels).mean())
        points = _pca_2d(query)
        context.emit(ProjectionReady(epoch, "pca", tuple((float(a), float(b)) for a, b in points),
                                     tuple(int(y) for y in query_labels), False, {"knn_accuracy": accuracy}))
        return {"knn_accuracy": accuracy}


def pretraining_settings(config: ProjectConfig) -> TrainingConfig:
    """The training settings pretraining runs with: the chosen optimizer, schedule, warm-up, weight decay and
    gradient clipping, at strategy.pretrain_lr over strategy.pretrain_epochs."""
    scfg = config.strategy
    updates = {"training.lr": scfg.pretrain_lr, "training.epochs": scfg.pretrain_epochs}
    return with_updates(config, updates, source="the pretraining settings").training


def run_pretraining(task: PretrainTask, images: PretrainImages, context: StrategyContext, path: Path,
                    saved: dict[str, Any] | None) -> list[dict[str, float]]:
    """Train `task` on `images` for strategy.pretrain_epochs, emitting events and checkpointing each epoch."""
    scfg, tcfg = context.config.strategy, context.config.training
    settings = pretraining_settings(context.config)
    params = [p for p in task.parameters() if p.requires_grad]
    optimizer = build_optimizer(params, settings)
    n = len(images.rows)
    if n < 2:
        raise ConfigError("pretraining needs at least two images")
    batch = min(scfg.pretrain_batch_size, n)
    steps = n // batch  # the last incomplete batch is dropped: contrastive losses want full batches
    total = scfg.pretrain_epochs * steps
    scheduler = build_scheduler(optimizer, settings, steps)
    history: list[dict[str, float]] = []
    start = 1
    if saved is not None:
        task.load_state_dict(saved["task"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        history, start = list(saved.get("history", [])), int(saved["epoch"]) + 1
        context.emit(LogMessage("info", f"pretraining continues at epoch {start} of {scfg.pretrain_epochs}"))
    else:
        plural = "s" if scfg.pretrain_epochs != 1 else ""
        context.emit(LogMessage("info", f"pretraining ({scfg.pretrain_epochs} epoch{plural}) on {images.description}"))
    monitor = PretrainMonitor(context)
    # The pretext losses run in float32 (no AMP): their normalised similarities are not checked under float16.
    loop = StepLoop(optimizer, scheduler, emit=context.emit, phase=PHASE, step=(start - 1) * steps,
                    control=context.control, device_type=context.device.type, clip_grad_norm=tcfg.grad_clip_norm,
                    on_step=lambda step, _epoch, _out: task.after_step(step / total))

    def loss_of(x: torch.Tensor) -> StepOutput:
        return StepOutput(task(x), len(x))

    for epoch in range(start, scfg.pretrain_epochs + 1):
        torch.manual_seed(tcfg.seed * 1000 + epoch)
        order = images.rows[np.random.default_rng([tcfg.seed, epoch, 17]).permutation(n)]
        task.train()
        began = time.perf_counter()  # the epoch's seconds include its monitoring, as shown before
        batches = [order[b * batch:(b + 1) * batch] for b in range(steps)]
        try:
            result = loop.run_epoch(epoch, batches, images.load, loss_of)
        except StopRequested:
            raise StopRequested(0, {}) from None  # a stopped pretraining epoch starts again from its beginning
        except NonFiniteLoss as bad:
            raise RuntimeError(f"the pretraining loss became {bad.value} at pretraining epoch {epoch}, batch "
                               f"{bad.batch}: lower strategy.pretrain_lr") from None
        metrics = monitor.epoch_end(task, epoch)
        val_loss = monitor.val_loss(task, tcfg.seed)
        record = {"epoch": epoch, "train_loss": result.loss, "val_loss": val_loss, **metrics}
        history.append(record)
        context.emit(EpochEnded(epoch, scfg.pretrain_epochs, record["train_loss"], val_loss, math.nan, metrics,
                                loop.lr if result.lr is None else result.lr, time.perf_counter() - began, False, PHASE))
        if context.is_main:
            save_checkpoint({"task": task.state_dict(), "optimizer": optimizer.state_dict(),
                             "scheduler": scheduler.state_dict(), "epoch": epoch, "history": history,
                             "done": epoch == scfg.pretrain_epochs}, path)
    return history


class PretrainingStrategy(PlannedStrategy):
    """Pretrain with `make_task`, then transfer or fine-tune (strategy.downstream) like transfer.py."""

    checkpoint_name = "pretrain.pt"
    report_name = "pretraining.json"
    label = "pretraining"

    def __init__(self) -> None:
        self.plan: UnfreezePlan | None = None
        self.pending = True

    def make_task(self, model: nn.Module, context: StrategyContext) -> PretrainTask:
        raise NotImplementedError

    def prepare_model(self, model: nn.Module, context: StrategyContext, resuming: bool) -> None:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            raise ConfigError(f"{self.label} runs on one device: start the run without torchrun")
        self.plan = UnfreezePlan(model, context.config, context.config.strategy.downstream == "fine_tune")
        if not resuming:  # the head is fresh after pretraining too: start it at a uniform guess (loss ln C)
            start_head_small(model)

    def on_epoch_start(self, epoch: int, model: nn.Module, optimizer: torch.optim.Optimizer,
                       context: StrategyContext) -> None:
        if self.pending:  # the first epoch (also after a resume) runs or restores the pretraining stage first
            self._pretrain(model, context)
            self.pending = False
        super().on_epoch_start(epoch, model, optimizer, context)

    def _pretrain(self, model: nn.Module, context: StrategyContext) -> None:
        path = RunFolder(context.run_dir).checkpoint(self.checkpoint_name)
        saved = load_checkpoint(path, map_location=str(context.device)) if path.exists() else None
        task = self.make_task(model, context).to(context.device)
        if saved is not None and saved.get("done"):
            # Pretraining finished earlier. Without a supervised checkpoint (a crash right after it), restore
            # its weights; with one, the engine has loaded newer weights already.
            if not RunFolder(context.run_dir).last_checkpoint.exists():
                task.load_state_dict(saved["task"])
            return
        model.requires_grad_(True)
        devices = [context.device.index or 0] if context.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):  # supervised epochs keep the random state the engine set
            images = pretraining_images(context)
            history = run_pretraining(task, images, context, path, saved)
        write_report(context, self.report_name, {"method": self.label, "images": images.description, "history": history})
        if history:
            last = history[-1]
            context.emit(LogMessage("info", f"{self.label} finished: loss {last['train_loss']:.4f}, kNN accuracy of "
                                            f"its features {last.get('knn_accuracy', math.nan):.3f}"))
