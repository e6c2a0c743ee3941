"""Everything a supervised run trains with, built from the config: model, batches, optimizer, schedule, AMP.

`build_run` makes a `TrainingRun`: the strategy and its model (wrapped in DDP under torchrun), the
training and validation batch sources, the optimizer and scheduler, the loss and the mixed-precision
settings. `resume_state` loads the checkpoint to continue from into them, when there is one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.core.config import ProjectConfig
from workbench.core.data.pipeline import PreparedData
from workbench.core.data.transforms import build_augmentation
from workbench.core.events import EngineEvent, LogMessage
from workbench.core.models.factory import build_model
from workbench.core.run_folder import BEST, LAST, RunFolder
from workbench.core.runs import RunStore
from workbench.core.strategies import load_strategy
from workbench.core.strategies.base import Strategy, StrategyContext
from workbench.core.training import distributed
from workbench.core.training.checkpoints import CheckpointWriter
from workbench.core.training.control import RunControl
from workbench.core.training.conv_gradients import ConvPlan, plan_conv_gradients
from workbench.core.training.loop import BatchSource
from workbench.core.training.optim import build_optimizer, build_scheduler
from workbench.core.training.resume import apply_new_lr, history_from_metrics, resume_point, trim_metrics
from workbench.core.training.state import TrainState


@dataclass
class TrainingRun:
    """One supervised run's parts; the epoch loop and its hooks read them from here."""

    config: ProjectConfig
    data: PreparedData
    device: torch.device
    ctx: distributed.DistContext
    run_id: str
    run_dir: Path
    store: RunStore | None
    emit: Callable[[EngineEvent], None]  # a no-op off rank 0
    control: RunControl
    strategy: Strategy
    sctx: StrategyContext
    model: nn.Module  # the bare model
    train_model: nn.Module  # the model the steps run through (the DDP wrapper under torchrun)
    train_source: BatchSource
    val_source: BatchSource
    steps_per_epoch: int
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    loss_fn: nn.Module
    amp_dtype: torch.dtype | None
    scaler: torch.amp.GradScaler | None
    saved: dict[str, Any] | None = None  # the checkpoint to continue from (resume_point), until resume_state
    fallback_note: str = ""  # why it is best.pt rather than last.pt
    checkpoints: CheckpointWriter = field(default_factory=CheckpointWriter)  # writes while the next epoch trains
    conv_plan: ConvPlan | None = None  # the CPU convolutions whose weight gradient is a matrix product

    @property
    def last_path(self) -> Path:
        return RunFolder(self.run_dir).last_checkpoint

    @property
    def best_path(self) -> Path:
        return RunFolder(self.run_dir).best_checkpoint

    @property
    def has_validation(self) -> bool:
        return len(self.val_source.indices) > 0

    def save_last(self, state: TrainState, epoch_done: int, next_batch: int = 0,
                  partial: dict[str, float] | None = None) -> None:
        """Write `last.pt`: weights, optimizer, schedule, scaler and the state (rank 0 only)."""
        if not self.ctx.is_main:
            return
        payload = {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), **state.to_checkpoint(), "epoch": epoch_done,
            "next_batch": next_batch, "partial": partial or {}, "class_names": list(self.data.class_names),
            "base_lr": self.config.training.lr,  # a resume with an edited rate scales the schedule by new / this
        }
        if self.scaler is not None:
            payload["scaler"] = self.scaler.state_dict()
        self.checkpoints.save(payload, self.last_path)

    def save_best(self, epoch: int) -> None:
        if self.ctx.is_main:
            self.checkpoints.save({"model": self.model.state_dict(), "epoch": epoch,
                                   "class_names": list(self.data.class_names)}, self.best_path)


def loss_function(config: ProjectConfig, data: PreparedData, device: torch.device) -> nn.Module:
    weight = None
    if config.training.class_weighting:
        counts = np.asarray(data.class_counts("train"), dtype=np.float64)
        weights = counts.sum() / (len(counts) * np.maximum(counts, 1))
        weight = torch.tensor(weights, dtype=torch.float32, device=device)
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=config.training.label_smoothing)


def uses_channels_last(model: nn.Module, device: torch.device) -> bool:
    """Whether the channels-last layout speeds this model up here: on CUDA, and on the CPU, where oneDNN's
    channels-last kernels trained the small CNN 1.1-1.25x and ResNet-18 about as fast, and evaluated 1.4-1.6x
    faster (benchmarks/channels_last_cpu.py). Not for instance normalisation, whose CPU kernel is slower in it
    (0.84x), nor on Apple's MPS, where the layout is poorly supported."""
    if device.type == "cuda":
        return True
    if device.type != "cpu":
        return False
    return not any(isinstance(m, nn.modules.instancenorm._InstanceNorm) for m in model.modules())


def amp_dtype(config: ProjectConfig, device: torch.device) -> torch.dtype | None:
    if device.type != "cuda" or not config.training.amp:
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def build_run(config: ProjectConfig, data: PreparedData, device: torch.device, ctx: distributed.DistContext,
              run_id: str, run_dir: Path, store: RunStore | None, emit: Callable[[EngineEvent], None],
              control: RunControl) -> TrainingRun:
    tcfg = config.training
    strategy: Strategy = load_strategy(config.strategy.name)
    sctx = StrategyContext(config, data, device, run_dir, emit, control, ctx.is_main)
    ckpt_dir = run_dir / "checkpoints"
    saved, fallback_note = resume_point(ckpt_dir / LAST, ckpt_dir / BEST)  # each rank reads the same files
    resuming = saved is not None
    model = strategy.build_model(sctx) or build_model(config, data.in_channels, len(data.class_names))
    strategy.prepare_model(model, sctx, resuming)
    model = model.to(device)
    channels_last = tcfg.channels_last and uses_channels_last(model, device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    conv_plan = None
    if device.type == "cpu" and tcfg.tuned_conv_gradients and not strategy.replaces_training():
        conv_plan = _conv_plan(model, config, data.in_channels, channels_last, emit)
    train_model: nn.Module = model
    if ctx.enabled:
        train_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    train_idx, val_idx = data.indices("train"), data.indices("val")
    common: dict[str, Any] = dict(data=data, batch_size=tcfg.batch_size, device=device, stats=data.stats,
                                  channels_last=channels_last)
    train_source = BatchSource(indices=train_idx, transform=build_augmentation(
        config.preprocessing.augmentation, config.preprocessing.image_size),
        shard=distributed.sharder(len(train_idx), ctx, tcfg.seed), **common)
    val_source = BatchSource(indices=val_idx, **common)
    steps_per_epoch = len(train_source.batches(train_source.epoch_order(0, tcfg.seed)))
    optimizer = build_optimizer(strategy.param_groups(model, sctx), tcfg)
    scheduler = build_scheduler(optimizer, tcfg, steps_per_epoch)
    dtype = amp_dtype(config, device)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return TrainingRun(config, data, device, ctx, run_id, run_dir, store, emit, control, strategy, sctx, model,
                       train_model, train_source, val_source, steps_per_epoch, optimizer, scheduler,
                       loss_function(config, data, device), dtype, scaler, saved, fallback_note, conv_plan=conv_plan)


def _conv_plan(model: nn.Module, config: ProjectConfig, in_channels: int, channels_last: bool,
               emit: Callable[[EngineEvent], None]) -> ConvPlan | None:
    """The layers whose weight gradient is faster by matrix product here (conv_gradients.py); None, and the
    usual kernels, where the model cannot be looked into."""
    size = config.preprocessing.image_size
    example = torch.zeros(1, in_channels, size, size)
    if channels_last:
        example = example.contiguous(memory_format=torch.channels_last)
    try:
        plan = plan_conv_gradients(model, example, config.training.batch_size)
    except Exception as error:  # a speed-up only: the run trains as it would have
        emit(LogMessage("info", f"CPU convolution gradients: the usual kernels ({type(error).__name__}: {error})"))
        return None
    if plan.layers:
        emit(LogMessage("info", plan.summary()))
    return plan


def resume_state(run: TrainingRun) -> TrainState:
    """A fresh state, or the one of the checkpoint `build_run` found, with the weights, optimizer and schedule
    loaded into the run. Metrics logged after that checkpoint (a crash lost them) are set aside."""
    saved, tcfg = run.saved, run.config.training
    run.saved = None  # the weights live in the model from here on
    state = TrainState()
    if saved is not None:
        run.model.load_state_dict(saved["model"])
        if "optimizer" in saved:
            run.optimizer.load_state_dict(saved["optimizer"])
            run.scheduler.load_state_dict(saved["scheduler"])
        else:  # fell back to best.pt: a fresh optimizer, the schedule moved on to that epoch
            for _ in range(int(saved["epoch"]) * run.steps_per_epoch):
                run.scheduler.step()
            saved = {**saved, "history": history_from_metrics(run.run_dir, int(saved["epoch"])),
                     "best_epoch": int(saved["epoch"])}
            run.emit(LogMessage("warning", run.fallback_note))
        if run.scaler is not None and "scaler" in saved:
            run.scaler.load_state_dict(saved["scaler"])
        state = TrainState.from_checkpoint(saved)
        apply_new_lr(run.optimizer, run.scheduler, float(saved.get("base_lr") or tcfg.lr), tcfg.lr)
        run.emit(LogMessage("info", f"resumed from epoch {state.epoch}" +
                            (f", batch {state.next_batch}" if state.next_batch else "")))
    if run.ctx.is_main and trim_metrics(run.run_dir, state.epoch):
        run.emit(LogMessage("warning", f"the run had no usable checkpoint after epoch {state.epoch}, so training "
                                       "continues from there; the metrics of the epochs after it were moved to "
                                       "metrics.before-restart.jsonl"))
    return state
