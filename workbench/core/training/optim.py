"""Registries of optimizers and learning-rate schedules, with factories that build them.

Entries are frozen dataclasses (after timm's OptimInfo); torch is imported only by the factories.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from workbench.core.config import TrainingConfig


@dataclass(frozen=True)
class OptimizerInfo:
    name: str
    label: str
    description: str
    default_lr: float
    uses_momentum: bool = False


@dataclass(frozen=True)
class SchedulerInfo:
    name: str
    label: str
    description: str
    params: tuple[str, ...] = ()


OPTIMIZERS: dict[str, OptimizerInfo] = {
    o.name: o
    for o in (
        OptimizerInfo("sgd", "SGD", "Plain or momentum SGD; a fair choice once the learning rate (~0.01) is tuned.", 0.01, True),
        OptimizerInfo("adam", "Adam", "Adaptive rates per weight; wants small learning rates (0.001 or lower).", 1e-3),
        OptimizerInfo("adamw", "AdamW", "Adam with decoupled weight decay; a robust default.", 1e-3),
        OptimizerInfo("radam", "RAdam", "Adam with a rectified warm-up; less sensitive to the first steps.", 1e-3),
    )
}

SCHEDULERS: dict[str, SchedulerInfo] = {
    s.name: s
    for s in (
        SchedulerInfo("constant", "Constant", "Keep the learning rate fixed."),
        SchedulerInfo("step", "Step decay", "Multiply the rate by gamma every step_size epochs.", ("step_size", "gamma")),
        SchedulerInfo("exponential", "Exponential decay", "Multiply the rate by gamma after every epoch.", ("gamma",)),
        SchedulerInfo("cosine", "Cosine annealing", "Decrease the rate smoothly to near zero along a cosine."),
        SchedulerInfo(
            "cosine_restarts", "Cosine with warm restarts",
            "Cosine decay that restarts, acting like a simulated restart of learning.", ("restart_period",),
        ),
        SchedulerInfo("onecycle", "One-cycle", "Warm up to the rate, then anneal far below it, in one cycle."),
    )
}


def build_optimizer(params, cfg: TrainingConfig) -> torch.optim.Optimizer:
    import torch

    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                               nesterov=cfg.momentum > 0)
    factory = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "radam": torch.optim.RAdam}[cfg.optimizer]
    return factory(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def lr_factor(cfg: TrainingConfig, step: int, steps_per_epoch: int) -> float:
    """Multiplier of the base learning rate at optimisation step `step` (0-based); a pure function."""
    total = max(1, cfg.epochs * steps_per_epoch)
    warm = cfg.warmup_epochs * steps_per_epoch
    if step < warm:
        return (step + 1) / warm
    epoch_f = (step - warm) / steps_per_epoch
    span = max(1e-9, (total - warm) / steps_per_epoch)
    name = cfg.scheduler
    if name == "constant":
        return 1.0
    if name == "step":
        return cfg.gamma ** int(epoch_f // cfg.step_size)
    if name == "exponential":
        return cfg.gamma ** int(epoch_f)
    if name == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(1.0, epoch_f / span)))
    if name == "cosine_restarts":
        period = cfg.restart_period
        return 0.5 * (1 + math.cos(math.pi * ((epoch_f % period) / period)))
    if name == "onecycle":
        progress = min(1.0, (step - warm) / max(1, total - warm))
        peak = 0.3
        if progress < peak:  # from lr/25 up to lr
            return 0.04 + 0.96 * 0.5 * (1 - math.cos(math.pi * progress / peak))
        tail = (progress - peak) / (1 - peak)  # then down to lr/1e4
        return 1e-4 + (1 - 1e-4) * 0.5 * (1 + math.cos(math.pi * tail))
    raise ValueError(f"unknown scheduler {name!r}")


def schedule_curve(cfg: TrainingConfig, steps_per_epoch: int = 10) -> list[tuple[float, float]]:
    """(epoch, learning rate) points for plotting the schedule before training."""
    total = cfg.epochs * steps_per_epoch
    return [(s / steps_per_epoch, cfg.lr * lr_factor(cfg, s, steps_per_epoch)) for s in range(total)]


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainingConfig, steps_per_epoch: int):
    """A per-step LambdaLR following `lr_factor`, so resume and DDP see identical rates."""
    import torch

    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(cfg, step, steps_per_epoch))
