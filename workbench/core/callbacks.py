"""Callbacks receive engine events; progress display and the metrics log are callbacks.

A callback overrides `on_event`, or the per-event hooks, each a no-op by default (after Lightning).
"""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path

from workbench.core.events import (
    BackgroundProgress,
    BatchEnded,
    EngineEvent,
    EpochEnded,
    FindingRaised,
    LogMessage,
    ProjectionReady,
    RunFailed,
    RunFinished,
    RunStarted,
    StageProgress,
)
from workbench.core.run_folder import FINDINGS, RunFolder


class Callback:
    """Base class: dispatches each event to a named hook."""

    def on_event(self, event: EngineEvent) -> None:
        hook = getattr(self, _HOOKS.get(type(event), ""), None)
        if hook is not None:
            hook(event)

    def on_run_started(self, event: RunStarted) -> None:
        """Called once, when the data is ready and the first batch is about to run."""

    def on_batch_ended(self, event: BatchEnded) -> None:
        """Called after every optimisation step."""

    def on_epoch_ended(self, event: EpochEnded) -> None:
        """Called after validation at the end of each epoch."""

    def on_finding(self, event: FindingRaised) -> None:
        """Called when a diagnostic check raises a finding."""

    def on_run_finished(self, event: RunFinished) -> None:
        """Called when training ends normally, by early stopping, or by a stop request."""

    def on_run_failed(self, event: RunFailed) -> None:
        """Called when training ends on an error."""


_HOOKS = {
    RunStarted: "on_run_started",
    BatchEnded: "on_batch_ended",
    EpochEnded: "on_epoch_ended",
    FindingRaised: "on_finding",
    RunFinished: "on_run_finished",
    RunFailed: "on_run_failed",
}


class CallbackList(Callback):
    def __init__(self, callbacks: list[Callback] | None = None) -> None:
        self.callbacks = list(callbacks or [])

    def on_event(self, event: EngineEvent) -> None:
        for callback in self.callbacks:
            callback.on_event(event)


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def epoch_line(event: EpochEnded, sep: str = "  ") -> str:
    """One epoch in words; a single fit says so, and quantities the phase does not have (nan) are left out."""
    parts = [f"train loss {event.train_loss:.4f}"]
    if _finite(event.val_loss):
        parts.append(f"val loss {event.val_loss:.4f}")
    for key, label in (("accuracy", "val acc"), ("knn_accuracy", "kNN acc")):
        if _finite(event.metrics.get(key)):
            parts.append(f"{label} {event.metrics[key]:.4f}")
            break
    if event.single_fit:
        return "fit: " + sep.join(parts) + f"{sep}{event.seconds:.1f}s"
    phase = "" if event.phase == "supervised" else f"{event.phase} "
    return (f"{phase}epoch {event.epoch:>3}/{event.epochs}{sep}" + sep.join(parts)
            + f"{sep}lr {event.lr:.2e}{sep}{event.seconds:.1f}s" + (" *" if event.is_best else ""))


class CollectingCallback(Callback):
    """Keeps every event; used by tests and by the CLI's summary."""

    def __init__(self) -> None:
        self.events: list[EngineEvent] = []

    def on_event(self, event: EngineEvent) -> None:
        self.events.append(event)

    def of_type(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


class MetricsLogCallback(Callback):
    """Appends epoch metrics as JSON lines and a readable log to the run folder."""

    def __init__(self, run_dir: Path) -> None:
        self.metrics_path = RunFolder(run_dir).metrics
        self.log_path = RunFolder(run_dir).log

    def _log(self, text: str) -> None:
        with self.log_path.open("a", encoding="utf-8") as handle:
            handle.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")

    def on_event(self, event: EngineEvent) -> None:
        if isinstance(event, LogMessage):
            self._log(f"[{event.level}] {event.message}")
        super().on_event(event)

    def on_run_started(self, event: RunStarted) -> None:
        self._log(
            f"run {event.run_id} started on {event.device}: {event.num_classes} classes, "
            f"splits {event.split_sizes}, {event.parameter_count:,} parameters, input {event.input_shape}"
        )

    def on_epoch_ended(self, event: EpochEnded) -> None:
        record = {
            "epoch": event.epoch,
            "phase": event.phase,
            "train_loss": event.train_loss,
            "val_loss": event.val_loss,
            "train_accuracy": event.train_accuracy,
            "lr": event.lr,
            "seconds": event.seconds,
            "is_best": event.is_best,
            **{k: v for k, v in event.metrics.items() if not isinstance(v, (list, dict))},
        }
        with self.metrics_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        self._log(epoch_line(event, ", "))

    def on_finding(self, event: FindingRaised) -> None:
        status = "" if event.status == "raised" else f" ({event.status})"
        self._log(f"finding [{event.severity}]{status} {event.title}: {event.explanation} Fix: {event.fix}")

    def on_run_finished(self, event: RunFinished) -> None:
        self._log(f"run {event.status} after {event.epochs_run} epochs; best epoch {event.best_epoch}")

    def on_run_failed(self, event: RunFailed) -> None:
        self._log(f"run failed: {event.reason}")


class ThrottledCallback(Callback):
    """Forwards progress events (batches, preparatory stages, background tasks) at most `rate_hz` times a second
    for each stage or task, always with its first and last event; all other events pass straight through.
    A window handles each event on its GUI thread: a stage that reported 40 steps in 23 ms stalled it 60-76 ms."""

    def __init__(self, inner: Callback, rate_hz: float = 10.0) -> None:
        self.inner = inner
        self.interval = 1.0 / rate_hz
        self._last: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _progress(event: EngineEvent) -> tuple[tuple[str, str], bool] | None:
        """(the stage or task it reports on, whether it is that one's last event), or None for other events."""
        if isinstance(event, BatchEnded):
            return ("batch", ""), event.batch == event.batches
        if isinstance(event, StageProgress):
            return ("stage", event.stage), 0 < event.total <= event.done
        if isinstance(event, BackgroundProgress):
            return ("background", event.task), event.finished or 0 < event.total <= event.done
        return None

    def on_event(self, event: EngineEvent) -> None:
        progress = self._progress(event)
        if progress is not None:
            key, last = progress
            now = time.monotonic()
            with self._lock:
                before = self._last.get(key)
                if not last and before is not None and now - before < self.interval:
                    return
                self._last[key] = now
        self.inner.on_event(event)


class RunArtifactsCallback(Callback):
    """Keeps the run's findings (findings.json) and its latest complete projection (projection.json) on disk,
    so reports and a re-opened run show them."""

    def __init__(self, run_dir: Path, class_names: list[str]) -> None:
        self.run_dir = run_dir
        self.class_names = class_names
        self.findings: list[dict] = []
        self._lock = threading.Lock()  # projections arrive from a worker thread

    def _write(self, name: str, data: object) -> None:
        from workbench.core.io import atomic_write_bytes

        atomic_write_bytes(self.run_dir / name, json.dumps(data, indent=1, default=str).encode("utf-8"))

    def on_event(self, event: EngineEvent) -> None:
        if isinstance(event, ProjectionReady) and not event.partial:
            from workbench.core.projection.deferred import layout_record

            with self._lock:
                self._write("projection.json", layout_record(event.epoch, event.method, event.points, event.labels,
                                                             self.class_names, event.scores, event.indices))
        super().on_event(event)

    def on_finding(self, event: FindingRaised) -> None:
        record = {
            "code": event.code, "severity": event.severity, "title": event.title, "explanation": event.explanation,
            "fix": event.fix, "evidence": event.evidence, "pane": event.pane, "status": event.status,
            "history": list(event.history),
        }
        with self._lock:
            # A later event of one code (updated, resolved, withdrawn) replaces the earlier one: one finding, one life.
            self.findings = [f for f in self.findings if not (event.code and f.get("code") == event.code)]
            self.findings.append(record)
            self._write(FINDINGS, {"findings": self.findings})
