"""Monitors watch a training run from the inside (model, batches, validation) and raise events.

Diagnostics and live projections are monitors. Each hook is a no-op by default; a monitor returns
nothing and reports through `context.emit`, which is safe to call from any thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
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
        """Called after validation, with the epoch's record (losses, metrics, learning rate, and under
        "validation" the pass's rows, labels and probabilities, or None without a validation split)."""

    def on_run_end(self, status: str) -> None:
        """Called once when training ends, whatever the outcome, before RunFinished; cancel background work here."""

    def after_run(self, status: str, should_stop: Callable[[], bool]) -> None:
        """Called after RunFinished was emitted: end-of-run checks that must not delay the run's report.

        Report progress with BackgroundProgress events; return early when `should_stop()` turns True.
        """

    def state_dict(self) -> dict[str, Any]:
        """What to save with the checkpoint, so that a resumed run continues where this one stopped."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict()` after `setup` on Resume (also after a crash)."""


def monitor_states(monitors: list[Monitor]) -> dict[str, dict[str, Any]]:
    """Each monitor's saved state, keyed by class name and position (stable for one config)."""
    states = {}
    for i, monitor in enumerate(monitors):
        try:
            state = monitor.state_dict()
        except Exception:  # a diagnostic must never stop a checkpoint
            continue
        if state:
            states[f"{i}:{type(monitor).__name__}"] = state
    return states


MONITORS_FILE = "monitors.json"


def save_monitor_states(folder: Path, monitors: list[Monitor], epoch: int) -> None:
    """Write the monitors' states beside the checkpoints (after their epoch hooks, so this epoch is included)."""
    from workbench.core.diagnostics.findings import plain
    from workbench.core.io import atomic_write_bytes

    states = monitor_states(monitors)
    if states:
        data = json.dumps({"epoch": epoch, "monitors": plain(states)}, default=str).encode("utf-8")
        atomic_write_bytes(Path(folder) / MONITORS_FILE, data)


def load_monitor_states(folder: Path, checkpoint_epoch: int) -> dict[str, dict[str, Any]]:
    """The states saved with the checkpoint of `checkpoint_epoch`; a later file (it cannot belong to this
    checkpoint) or an unreadable one gives none. After a crash between the two writes, the file may lag by an
    epoch: the monitors then miss that epoch, which is better than forgetting the run."""
    path = Path(folder) / MONITORS_FILE
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(saved, dict) or int(saved.get("epoch", -1)) > checkpoint_epoch:
        return {}
    return dict(saved.get("monitors") or {})


def restore_monitor_states(monitors: list[Monitor], states: dict[str, dict[str, Any]]) -> None:
    for i, monitor in enumerate(monitors):
        state = states.get(f"{i}:{type(monitor).__name__}")
        if state:
            try:
                monitor.load_state_dict(state)
            except Exception:  # an older or foreign state: the monitor starts afresh
                continue


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
