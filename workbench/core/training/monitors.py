"""Monitors watch a training run from the inside (model, batches, validation) and raise events.

Diagnostics and live projections are monitors. Each hook is a no-op by default; a monitor returns
nothing and reports through `context.emit`, which is safe to call from any thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

    from workbench.core.config import ProjectConfig
    from workbench.core.data.pipeline import PreparedData
    from workbench.core.events import EngineEvent
    from workbench.core.training.loop import BatchSource


@dataclass
class MonitorContext:
    config: ProjectConfig
    data: PreparedData
    model: nn.Module  # the bare model (never the DDP wrapper)
    train_source: BatchSource
    val_source: BatchSource
    run_dir: Any  # pathlib.Path
    emit: Callable[[EngineEvent], None]
    device: torch.device


class Monitor:
    """Base class; override the hooks you need."""

    def setup(self, context: MonitorContext) -> None:
        """Called once after the model is built, before the first batch."""

    def on_step(self, step: int, epoch: int, loss: float, x: torch.Tensor, y: torch.Tensor, logits: torch.Tensor) -> None:
        """Called after each optimisation step with the batch that was used (gradients still present)."""

    def on_epoch_end(self, epoch: int, record: dict[str, Any]) -> None:
        """Called after validation, with the epoch's record (losses, metrics, learning rate)."""

    def on_run_end(self, status: str) -> None:
        """Called once when training ends, whatever the outcome; finish or cancel background work here."""


MonitorFactory = Callable[["ProjectConfig"], list[Monitor]]
_factories: list[MonitorFactory] = []


def register_monitor_factory(factory: MonitorFactory) -> None:
    """Add a factory that returns the monitors to attach to every run (diagnostics, projections)."""
    if factory not in _factories:
        _factories.append(factory)


def default_monitors(config: ProjectConfig) -> list[Monitor]:
    monitors: list[Monitor] = []
    for factory in _factories:
        monitors.extend(factory(config))
    return monitors
