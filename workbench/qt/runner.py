"""TrainingRunner: runs the engine's `train` on a QThread and re-emits every engine event as a Qt signal.

The engine calls a bridge callback on the worker thread; the bridge emits a signal of a QObject that
lives on that thread, so Qt queues each event onto the GUI thread. Per-batch events pass through the
engine's ThrottledCallback (about 10 a second). Pause, resume and stop go through the engine's
RunControl, which the training loop checks between batches; a stop makes the engine write a checkpoint
that `start(..., resume=run_dir)` continues from. With `k_fold=True` the worker calls the engine's
`run_k_fold` instead: one run per validation fold, each emitting the usual events, then a KFoldResult.

When a run is reported finished, `is_running` turns False at once (curves, metrics and Evaluate are ready)
while the worker thread still waits for the end-of-run diagnostics in their helper processes; their
progress arrives as `background` signals ("Checking for shortcuts: 3 of 10 classes"), `is_busy` stays
True until they are done, and a stop, a new start or closing the window cancels them.

While a run is going, the interpreter's thread switch interval is shortened, so the GUI thread gets the
GIL back within half a millisecond instead of five whenever the training thread runs Python code.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Any, ClassVar

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from workbench.core.callbacks import Callback, ThrottledCallback
from workbench.core.config import ProjectConfig
from workbench.core.events import (
    BackgroundProgress,
    BatchEnded,
    CheckpointSaved,
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
from workbench.core.host import set_interactive_host
from workbench.core.training.control import RunControl

BATCH_RATE_HZ = 10.0
SWITCH_INTERVAL_S = 0.0005  # while training: how long the GUI thread may wait for the GIL


class _EmitCallback(Callback):
    """Engine callback that hands every event to a Qt signal (called on the worker thread)."""

    def __init__(self, emit) -> None:
        self._emit = emit

    def on_event(self, event: EngineEvent) -> None:
        self._emit(event)


TRAINING_NICENESS = 5


class _TrainWorker(QObject):
    """Lives on the training thread; `run` calls the engine and reports back through signals."""

    event = Signal(object)
    result = Signal(object)  # the engine's TrainResult
    crashed = Signal(str, str)  # message, traceback
    done = Signal()

    def __init__(self, config: ProjectConfig, control: RunControl, resume: str | None, k_fold: bool = False) -> None:
        super().__init__()
        self._config = config
        self._control = control
        self._resume = resume
        self._k_fold = k_fold

    @Slot()
    def run(self) -> None:
        try:
            # Training yields the CPU to the window's thread when both want it (the window is idle most of the time,
            # so training loses next to nothing). Its torch threads start from this one and inherit the niceness.
            from workbench.core.diagnostics.background import lower_thread_priority

            lower_thread_priority(TRAINING_NICENESS)
            callback = ThrottledCallback(_EmitCallback(self.event.emit), rate_hz=BATCH_RATE_HZ)
            if self._k_fold:
                from workbench.core.strategies.kfold import run_k_fold

                result = run_k_fold(self._config, callback, self._control, resume=self._resume)
            else:
                from workbench.core.training.engine import train

                result = train(self._config, callback, self._control, resume=self._resume)
            self.result.emit(result)
        except BaseException as error:
            self.crashed.emit(f"{type(error).__name__}: {error}", traceback.format_exc())
        finally:
            self.done.emit()


class TrainingRunner(QObject):
    """Starts, pauses, resumes and stops one training run at a time, and re-emits its events."""

    event = Signal(object)  # every engine event
    run_started = Signal(object)  # RunStarted
    stage = Signal(object)  # StageProgress
    batch = Signal(object)  # BatchEnded (throttled)
    epoch = Signal(object)  # EpochEnded
    checkpoint = Signal(object)  # CheckpointSaved
    finding = Signal(object)  # FindingRaised
    projection = Signal(object)  # ProjectionReady
    log = Signal(object)  # LogMessage
    background = Signal(object)  # BackgroundProgress of the diagnostics beside and after training
    run_finished = Signal(object)  # RunFinished
    run_failed = Signal(object)  # RunFailed
    result = Signal(object)  # TrainResult (KFoldResult for a cross-validation), when the engine returns
    crashed = Signal(str, str)  # unexpected exception: message, traceback
    refused = Signal(str)  # a start was refused (one run at a time)
    running_changed = Signal(bool)
    paused_changed = Signal(bool)
    thread_finished = Signal()  # the worker thread has ended; safe to start again or to quit

    _SIGNALS: ClassVar[dict[type, str]] = {
        RunStarted: "run_started",
        StageProgress: "stage",
        BatchEnded: "batch",
        EpochEnded: "epoch",
        CheckpointSaved: "checkpoint",
        FindingRaised: "finding",
        ProjectionReady: "projection",
        LogMessage: "log",
        BackgroundProgress: "background",
        RunFinished: "run_finished",
        RunFailed: "run_failed",
    }

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        set_interactive_host(True)  # the engine runs beside the window: its end-of-run work goes to helpers
        self._thread: QThread | None = None
        self._worker: _TrainWorker | None = None
        self._control: RunControl | None = None
        self.run_dir = ""
        self.last_result: Any = None
        self.k_fold = False  # whether the current (or last) start was a k-fold cross-validation
        self._saved_switch_interval: float | None = None
        self._training_over = False  # RunFinished/RunFailed arrived; the thread may still finish diagnostics

    # --- state ------------------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        """True while a run trains (not while its end-of-run diagnostics finish in the background)."""
        return self._thread is not None and not self._training_over

    @property
    def is_busy(self) -> bool:
        """True while the worker thread lives: training, or the end-of-run diagnostics after it."""
        return self._thread is not None

    @property
    def is_paused(self) -> bool:
        return self._control is not None and self._control.paused

    @property
    def stop_requested(self) -> bool:
        return self._control is not None and self._control.stop_requested

    # --- commands ---------------------------------------------------------------------------------

    def start(self, config: ProjectConfig, resume: str | Path | None = None, k_fold: bool = False) -> bool:
        """Start a run (or continue the stopped run at `resume`, or cross-validate with `k_fold`: one run per
        fold of `config.data.k_folds`, where `resume` is a stopped cross-validation's kfold-*.json); refuses
        while another run is going."""
        if self.is_busy and not self.is_running:
            self._cancel_background()
        if self.is_running:
            self.refused.emit(self.tr(
                "A training run is already in progress. Stop it (or wait for it to finish) before starting another."
            ))
            return False
        self.last_result = None
        self._training_over = False
        self.k_fold = k_fold
        self.run_dir = str(resume) if resume else ""
        self._control = RunControl()
        self._thread = QThread(self)
        self._thread.setObjectName("workbench-training")
        self._worker = _TrainWorker(config.model_copy(deep=True), self._control, str(resume) if resume else None,
                                   k_fold)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.event.connect(self._on_event)
        self._worker.result.connect(self._on_result)
        self._worker.crashed.connect(self.crashed)
        # Direct: QThread.quit is thread-safe, and the thread must end even while the GUI thread waits on it.
        self._worker.done.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        thread = self._thread
        self._thread.finished.connect(lambda: self._on_thread_finished(thread))
        self._saved_switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._saved_switch_interval, SWITCH_INTERVAL_S))
        self._thread.start()
        self.running_changed.emit(True)
        return True

    def pause(self) -> None:
        if self._control is not None and not self._control.paused:
            self._control.pause()
            self.paused_changed.emit(True)

    def resume(self) -> None:
        if self._control is not None and self._control.paused:
            self._control.resume()
            self.paused_changed.emit(False)

    def stop(self) -> None:
        """Ask the engine to stop after the current batch; it saves a checkpoint and returns."""
        if self._control is not None:
            was_paused = self._control.paused
            self._control.request_stop()
            if was_paused:
                self.paused_changed.emit(False)

    def _cancel_background(self) -> None:
        """End the previous run's end-of-run diagnostics now (a new run is starting)."""
        if self._control is not None:
            self._control.request_stop()
        if self._thread is not None and self._thread.wait(15_000):
            self._on_thread_finished(self._thread)

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until the worker thread has ended (used at shutdown); True when it has."""
        return self._thread.wait(msecs) if self._thread is not None else True

    # --- events from the worker (queued onto the GUI thread) --------------------------------------

    @Slot(object)
    def _on_event(self, event: EngineEvent) -> None:
        if isinstance(event, RunStarted):
            self.run_dir = event.run_dir
        elif isinstance(event, (RunFinished, RunFailed)) and not self.k_fold and not self._training_over:
            self._training_over = True  # before the signals, so their slots see the run as over
            self._restore_switch_interval()
            self.running_changed.emit(False)
        name = self._SIGNALS.get(type(event))
        if name is not None:
            getattr(self, name).emit(event)
        self.event.emit(event)

    @Slot(object)
    def _on_result(self, result: Any) -> None:
        self.last_result = result
        run_dir = getattr(result, "run_dir", None)
        if run_dir:
            self.run_dir = str(run_dir)
        self.result.emit(result)

    def _on_thread_finished(self, finished: QThread | None = None) -> None:
        thread, worker = self._thread, self._worker
        if thread is None or (finished is not None and finished is not thread):
            return  # already cleaned up (a start that cancelled the previous run's diagnostics)
        self._thread = self._worker = None
        self._control = None
        self._restore_switch_interval()
        if worker is not None:
            worker.deleteLater()
        thread.deleteLater()
        if not self._training_over:
            self.running_changed.emit(False)
        self._training_over = False
        self.thread_finished.emit()

    def _restore_switch_interval(self) -> None:
        if self._saved_switch_interval is not None:
            sys.setswitchinterval(self._saved_switch_interval)
            self._saved_switch_interval = None
