"""Registry of learning-rate schedules: each entry carries its factor function (pure Python, no torch).

A factor function gets a `ScheduleClock` (where training is, after any warm-up) and the TrainingConfig, and
returns the multiplier of the base learning rate. Warm-up is applied around it by `lr_factor`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ScheduleClock:
    step: int  # optimisation steps since the warm-up ended (0-based)
    total: int  # optimisation steps after the warm-up
    steps_per_epoch: int

    @property
    def epoch(self) -> float:
        return self.step / self.steps_per_epoch

    @property
    def span(self) -> float:
        """Epochs after the warm-up."""
        return max(1e-9, self.total / self.steps_per_epoch)

    @property
    def progress(self) -> float:
        return min(1.0, self.step / max(1, self.total))


Factor = Callable[[ScheduleClock, Any], float]


@dataclass(frozen=True)
class SchedulerInfo:
    name: str
    label: str
    description: str
    params: tuple[str, ...] = ()  # TrainingConfig fields it reads
    factor: Factor = lambda clock, cfg: 1.0


def _cosine(clock: ScheduleClock, cfg: Any) -> float:
    return 0.5 * (1 + math.cos(math.pi * min(1.0, clock.epoch / clock.span)))


def _restarts(clock: ScheduleClock, cfg: Any) -> float:
    period = cfg.restart_period
    return 0.5 * (1 + math.cos(math.pi * ((clock.epoch % period) / period)))


def _onecycle(clock: ScheduleClock, cfg: Any) -> float:
    peak = 0.3
    if clock.progress < peak:  # from lr/25 up to lr
        return 0.04 + 0.96 * 0.5 * (1 - math.cos(math.pi * clock.progress / peak))
    tail = (clock.progress - peak) / (1 - peak)  # then down to lr/1e4
    return 1e-4 + (1 - 1e-4) * 0.5 * (1 + math.cos(math.pi * tail))


SCHEDULERS: dict[str, SchedulerInfo] = {
    s.name: s
    for s in (
        SchedulerInfo("constant", "Constant", "Keep the learning rate fixed."),
        SchedulerInfo("step", "Step decay", "Multiply the rate by gamma every step_size epochs.", ("step_size", "gamma"),
                      lambda clock, cfg: cfg.gamma ** int(clock.epoch // cfg.step_size)),
        SchedulerInfo("exponential", "Exponential decay", "Multiply the rate by gamma after every epoch.", ("gamma",),
                      lambda clock, cfg: cfg.gamma ** int(clock.epoch)),
        SchedulerInfo("cosine", "Cosine annealing", "Decrease the rate smoothly to near zero along a cosine.",
                      factor=_cosine),
        SchedulerInfo("cosine_restarts", "Cosine with warm restarts",
                      "Cosine decay that restarts, acting like a simulated restart of learning.", ("restart_period",),
                      _restarts),
        SchedulerInfo("onecycle", "One-cycle", "Warm up to the rate, then anneal far below it, in one cycle.",
                      factor=_onecycle),
    )
}


def register_scheduler(info: SchedulerInfo) -> None:
    """Add or replace a schedule (plugins use this through the `workbench.plugins` entry points)."""
    if not callable(info.factor):
        raise ValueError(f"schedule {info.name!r}: factor must be a function (clock, training config) -> float")
    SCHEDULERS[info.name] = info


def lr_factor(cfg: Any, step: int, steps_per_epoch: int) -> float:
    """Multiplier of the base learning rate at optimisation step `step` (0-based); a pure function."""
    total = max(1, cfg.epochs * steps_per_epoch)
    warm = cfg.warmup_epochs * steps_per_epoch
    if step < warm:
        return (step + 1) / warm
    if cfg.scheduler not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {cfg.scheduler!r}; choose one of {sorted(SCHEDULERS)}")
    return float(SCHEDULERS[cfg.scheduler].factor(ScheduleClock(step - warm, total - warm, steps_per_epoch), cfg))
