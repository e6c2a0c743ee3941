"""Building the optimizer and the learning-rate schedule that the registries describe.

The registries themselves (`OPTIMIZERS`, `SCHEDULERS`) live in the torch-free catalog and are re-exported
here; torch is imported only by the factories.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.core.catalog.optimizers import OPTIMIZERS, OptimizerInfo, register_optimizer
from workbench.core.catalog.schedules import SCHEDULERS, SchedulerInfo, lr_factor, register_scheduler

if TYPE_CHECKING:
    import torch

    from workbench.core.config import TrainingConfig

__all__ = ["OPTIMIZERS", "SCHEDULERS", "OptimizerInfo", "SchedulerInfo", "build_optimizer", "build_scheduler",
           "lr_factor", "register_optimizer", "register_scheduler", "schedule_curve"]


def build_optimizer(params, cfg: TrainingConfig) -> torch.optim.Optimizer:
    """The registry entry's class, with the settings its capabilities say it takes."""
    info = OPTIMIZERS[cfg.optimizer]
    return info.load_class()(params, **info.kwargs(cfg))


def schedule_curve(cfg: TrainingConfig, steps_per_epoch: int = 10) -> list[tuple[float, float]]:
    """(epoch, learning rate) points for plotting the schedule before training."""
    total = cfg.epochs * steps_per_epoch
    return [(s / steps_per_epoch, cfg.lr * lr_factor(cfg, s, steps_per_epoch)) for s in range(total)]


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainingConfig, steps_per_epoch: int):
    """A per-step LambdaLR following `lr_factor`, so resume and DDP see identical rates."""
    import torch

    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(cfg, step, steps_per_epoch))
