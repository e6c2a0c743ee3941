"""The words of the Train pane: the phase label, the log line of an epoch, and durations.

Kept apart from the pane so the wording can be tested without a window, and so the pane stays about
commands and events.
"""

from __future__ import annotations

import math
import time
from typing import Any

from PySide6.QtCore import QCoreApplication

from workbench.qt.run_phase import RunPhase
from workbench.qt.widgets.step_list import StepState, StepStatus

# config.training.monitor → (label, key in EpochEnded.metrics or "val_loss", lower is better)
MONITORS: dict[str, tuple[str, str, bool]] = {
    "val_loss": ("validation loss", "val_loss", True),
    "val_accuracy": ("validation accuracy", "accuracy", False),
    "val_balanced_accuracy": ("validation balanced accuracy", "balanced_accuracy", False),
    "val_macro_f1": ("validation macro F1", "macro_f1", False),
}


def _tr(text: str) -> str:
    return QCoreApplication.translate("TrainPane", text)


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class EtaClock:
    """Time left from the rate since the first batch seen (the first batch's start-up cost is not counted)."""

    def __init__(self) -> None:
        self._origin: tuple[float, int] | None = None

    def remaining(self, done: int, total: int) -> float:
        now = time.monotonic()
        if self._origin is None:
            self._origin = (now, done)
            return math.nan
        t0, d0 = self._origin
        rate = (done - d0) / max(now - t0, 1e-6)
        return (total - done) / rate if rate > 0 else math.nan


def pointing_to_data(message: str) -> str:
    """A dataset message as the Train pane shows it: the skipped list it mentions is in the Data step."""
    return message.replace("see the skipped list", _tr("the Data step lists them"))


def phase_words(phase: RunPhase) -> str:
    return {
        RunPhase.IDLE: _tr("Not started"),
        RunPhase.PREPARING: _tr("Preparing data…"),
        RunPhase.TRAINING: _tr("Training"),
        RunPhase.PAUSED: _tr("Paused"),
        RunPhase.STOPPING: _tr("Stopping…"),
        RunPhase.COMPLETED: _tr("Finished"),
        RunPhase.STOPPED: _tr("Stopped — Resume continues from the checkpoint"),
        RunPhase.EARLY_STOPPED: _tr("Stopped early"),
        RunPhase.FAILED: _tr("Failed"),
    }[phase]


def stored_run_words(status: str, epochs: int) -> str:
    """The phase label while a stored run's curves are shown (nothing is training)."""
    if status == "stopped":
        return _tr("Stored run · stopped after {0} epoch(s), can resume").format(epochs)
    if status in ("completed", "early_stopped"):
        return _tr("Stored run · trained {0} epoch(s)").format(epochs)
    return _tr("Stored run · {0} after {1} epoch(s)").format(status or _tr("unknown"), epochs)


def monitored_value(monitor: str, val_loss: float, metrics: dict[str, Any]) -> tuple[str, str]:
    """(label, formatted value) of the quantity that picks the best epoch."""
    label, key, _lower = MONITORS.get(monitor, MONITORS["val_loss"])
    value = val_loss if key == "val_loss" else metrics.get(key, math.nan)
    if not isinstance(value, (int, float)) or value != value:
        return _tr(label), "–"
    return _tr(label), f"{value:.4f}" if key == "val_loss" else f"{value:.1%}"


def epoch_line(event: Any, monitor: str, majority: float | None = None) -> str:
    """The log line of a supervised epoch: the losses, plain accuracy (beside the majority-class baseline, when
    known), and the monitored quantity, which is what the star ("best so far") is decided by."""
    accuracy = event.metrics.get("accuracy", math.nan)
    text = _tr("Epoch {0}/{1}: training loss {2:.4f}, validation loss {3:.4f}, validation accuracy {4:.1%}").format(
        event.epoch, event.epochs, event.train_loss, event.val_loss, accuracy)
    if isinstance(majority, float) and math.isfinite(majority):
        text += _tr(" (majority {0:.1%})").format(majority)
    label, value = monitored_value(monitor, event.val_loss, event.metrics)
    if monitor not in ("val_loss", "val_accuracy"):
        text += f", {label} {value}"
    text += _tr(" ({0:.1f} s)").format(event.seconds)
    if event.is_best:
        text += _tr(" ★ best {0} so far").format(label)
    return text


def baseline_line(baselines: dict[str, Any]) -> str:
    """The validation split's baselines, logged when a run starts (". Baselines ..."), or "" when unknown."""
    if not baselines.get("images"):
        return ""
    return ". " + _tr("Baselines on the validation split: always answering \"{0}\" scores {1:.1%} accuracy; chance balanced "
               "accuracy is {2:.1%}").format(baselines["majority_class"], baselines["majority_accuracy"],
                                             baselines["chance_balanced_accuracy"])


def projection_schedule(every: int, epoch: int, epochs: int) -> str:
    """When the next projection comes, for the empty projection panel."""
    if every <= 0 or every >= epochs:
        return _tr("The projection comes at the end of the run")
    upcoming = (epoch // every + 1) * every
    if upcoming >= epochs:
        return _tr("Next projection at the end of the run (epoch {0})").format(epochs)
    return _tr("Projection every {0} epochs · next after epoch {1}").format(every, upcoming)


def train_step_status(pane: Any) -> StepStatus:
    """The Train step's line in the step list, from the pane's phase, its stored run and its curves."""
    if not pane.project.config.data.source:
        return StepStatus(StepState.NOT_STARTED, _tr("Needs a dataset"))
    if pane.phase in (RunPhase.PREPARING, RunPhase.TRAINING, RunPhase.STOPPING):
        return StepStatus(StepState.NOT_STARTED, _tr("Running · epoch {0}/{1}").format(
            max(pane.last_epoch, 0), pane.epochs or "?"))
    if pane.phase == RunPhase.PAUSED:
        return StepStatus(StepState.ATTENTION, _tr("Paused"))
    if pane.phase == RunPhase.FAILED:
        return StepStatus(StepState.ATTENTION, _tr("Run failed"))
    if pane.phase == RunPhase.STOPPED or (pane.phase == RunPhase.IDLE and pane.stored_status == "stopped"):
        return StepStatus(StepState.ATTENTION, _tr("Stopped · can resume"))
    if pane.k_fold_summary and pane.phase.finished:
        return StepStatus(StepState.READY, _tr("Cross-validated · {0} folds").format(pane.kfold_table.k))
    if pane.phase.finished or pane.curves.epochs_shown():
        return StepStatus(StepState.READY, _tr("Trained · {0} epochs").format(pane.last_epoch))
    return StepStatus(StepState.NOT_STARTED, _tr("Not trained yet"))
