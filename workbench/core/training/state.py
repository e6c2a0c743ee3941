"""The typed state of a supervised run: where it got to and what it found best, saved in every checkpoint.

`TrainState` is what a resumed run needs to continue as if uninterrupted. `EpochRecord` is one epoch's
outcome, handed to the epoch hooks (best epoch, checkpoints, early stopping) after validation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from workbench.core.training.steps import EpochResult


@dataclass
class TrainState:
    """Saved with `last.pt` under these field names (older checkpoints store the same keys)."""

    epoch: int = 0  # the last finished epoch
    next_batch: int = 0  # a stopped epoch continues at this batch
    partial: dict[str, float] = field(default_factory=dict)  # the stopped epoch's running sums
    best_value: float | None = None
    best_epoch: int = 0
    best_metrics: dict[str, Any] = field(default_factory=dict)
    stale_epochs: int = 0  # epochs since the monitored value last improved
    history: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_checkpoint(cls, saved: dict[str, Any]) -> TrainState:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in saved.items() if k in names})

    def to_checkpoint(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EpochRecord:
    """One validated epoch, as the hooks see it."""

    epoch: int
    result: EpochResult
    train_loss: float  # averaged over all ranks
    val_loss: float
    metrics: dict[str, Any]  # classification metrics on the validation split ({} without one)
    value: float  # the monitored quantity (training.monitor)
    lr: float  # the rate of the epoch's last step
    data_fraction: float = 1.0
    is_best: bool = False  # decided by the best-epoch hook
    validation: dict[str, Any] | None = None  # rows, labels and probabilities of the validation pass

    @property
    def headline(self) -> dict[str, float]:
        """The scalar metrics (accuracy, balanced accuracy, ...), without tables."""
        return {k: v for k, v in self.metrics.items() if isinstance(v, float)}

    def history_entry(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "train_loss": self.train_loss, "val_loss": self.val_loss,
                "train_accuracy": self.result.accuracy, "lr": self.lr,
                "seconds": self.result.seconds, **self.headline}  # the seconds sum to the whole run's time
