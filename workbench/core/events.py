"""Frozen dataclasses that the engine emits while it works.

The GUI's runner re-emits them as Qt signals; the CLI prints them. They hold plain Python values
(numbers, strings, lists), never tensors, so any thread or process may keep them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EngineEvent:
    """Base class of every event."""


@dataclass(frozen=True)
class RunStarted(EngineEvent):
    run_id: str
    run_dir: str
    device: str
    num_classes: int
    class_names: tuple[str, ...]
    split_sizes: dict[str, int]
    epochs: int
    batches_per_epoch: int
    parameter_count: int
    input_shape: tuple[int, ...]
    resumed_from_epoch: int = 0
    baselines: dict[str, Any] = field(default_factory=dict)  # of the validation split: majority class and chance


@dataclass(frozen=True)
class StageProgress(EngineEvent):
    """Progress of a preparatory stage (scanning, decoding, statistics)."""

    stage: str
    done: int
    total: int
    message: str = ""


@dataclass(frozen=True)
class BackgroundProgress(EngineEvent):
    """Progress of diagnostics that run beside or after training, each task with its own line.

    `text` reads "Checking for shortcuts: 3 of 10 classes"; `finished` is True on a task's last event.
    """

    task: str  # "data-checks", "shortcut", "label-check" or "projection"
    label: str  # "Checking for shortcuts"
    done: int
    total: int
    unit: str = ""  # what is counted: "checks", "classes", "steps"
    finished: bool = False

    @property
    def text(self) -> str:
        if self.finished:
            return f"{self.label}: done"
        return f"{self.label}: {self.done} of {self.total} {self.unit}".rstrip()


@dataclass(frozen=True)
class BatchEnded(EngineEvent):
    epoch: int
    batch: int
    batches: int
    loss: float
    lr: float
    images_per_second: float
    global_step: int
    phase: str = "supervised"  # or e.g. "pretraining" for a self-supervised stage


@dataclass(frozen=True)
class EpochEnded(EngineEvent):
    epoch: int
    epochs: int
    train_loss: float
    val_loss: float
    train_accuracy: float
    metrics: dict[str, Any]
    lr: float
    seconds: float
    is_best: bool
    phase: str = "supervised"
    data_fraction: float = 1.0  # share of the training split used this epoch (curriculum learning)
    single_fit: bool = False  # the strategy trained by one fit (e.g. a scikit-learn classifier), not by epochs


@dataclass(frozen=True)
class CheckpointSaved(EngineEvent):
    epoch: int
    path: str
    kind: str  # "last", "best" or "stop"


@dataclass(frozen=True)
class FindingRaised(EngineEvent):
    code: str
    severity: str  # "info", "warning" or "problem"
    title: str
    explanation: str
    fix: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    pane: str = "train"
    status: str = "raised"  # "raised", "updated", "resolved" or "withdrawn": a later event of one code replaces it
    history: tuple[dict[str, Any], ...] = ()  # {"status", "epoch", "note"}, oldest first


@dataclass(frozen=True)
class ProjectionReady(EngineEvent):
    epoch: int
    method: str
    points: tuple[tuple[float, float], ...]
    labels: tuple[int, ...]
    partial: bool = False
    scores: dict[str, float] = field(default_factory=dict)
    indices: tuple[int, ...] = ()  # the dataset rows (split.csv order) of the points


@dataclass(frozen=True)
class LogMessage(EngineEvent):
    level: str
    message: str


@dataclass(frozen=True)
class RunFinished(EngineEvent):
    run_id: str
    run_dir: str
    status: str  # "completed", "stopped" or "early_stopped"
    best_epoch: int
    best_metrics: dict[str, Any]
    epochs_run: int


@dataclass(frozen=True)
class RunFailed(EngineEvent):
    run_id: str
    run_dir: str
    reason: str
    kept_checkpoint: str = ""
