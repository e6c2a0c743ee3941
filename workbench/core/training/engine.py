"""The training engine: one entry point, `train`, shared by the GUI runner, the CLI and torchrun.

It prepares the data and the run folder, starts the epoch loop (epochs.py, with the model and optimizer
from setup.py and the best-epoch, checkpoint and early-stopping hooks of hooks.py), and reports
everything through events. User errors never escape as exceptions: they end the
run with a RunFailed event that says what happened and what to do.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.core.callbacks import Callback, CallbackList, MetricsLogCallback, RunArtifactsCallback
from workbench.core.config import ConfigError, ProjectConfig, save_config, with_updates
from workbench.core.data.errors import DatasetError
from workbench.core.data.pipeline import PreparedData
from workbench.core.devices import select_device
from workbench.core.evaluation.baselines import baselines
from workbench.core.events import EngineEvent, FindingRaised, LogMessage, RunFinished, RunStarted
from workbench.core.models.factory import ModelBuildError, preflight_model
from workbench.core.run_folder import RunFolder
from workbench.core.runs import RunStore, read_json, write_json
from workbench.core.strategies.layout import run_architecture_config
from workbench.core.training import distributed
from workbench.core.training.allocator import retain_freed_memory
from workbench.core.training.checkpoints import CheckpointError
from workbench.core.training.control import RunControl
from workbench.core.training.conv_gradients import matmul_weight_gradients
from workbench.core.training.epochs import EpochLoop
from workbench.core.training.failures import fail, nan_diagnosis, readable, saved_files
from workbench.core.training.hooks import default_hooks
from workbench.core.training.monitors import (
    Monitor,
    MonitorContext,
    default_monitors,
    load_monitor_states,
    restore_monitor_states,
)
from workbench.core.training.resume import check_epochs_left, checkpoint_epoch, resume_settings
from workbench.core.training.run_files import check_disk_space, prepare_run_data, write_data_files
from workbench.core.training.setup import TrainingRun, build_run, resume_state
from workbench.core.training.state import TrainState
from workbench.core.training.steps import NonFiniteLoss, StopRequested

log = logging.getLogger(__name__)

@dataclass
class TrainResult:
    run_id: str
    run_dir: Path | None
    status: str  # "completed", "stopped", "early_stopped" or "failed"
    best_epoch: int = 0
    best_metrics: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    epochs_run: int = 0


class _Emitter:
    """Sends events to the callbacks on rank 0 only, one event at a time: end-of-run checks emit from their own
    threads while the training thread reports the run finished, and callbacks need not be thread-safe."""

    def __init__(self, callback: Callback | None, is_main: bool) -> None:
        self.callbacks = CallbackList([callback] if callback is not None else [])
        self.is_main = is_main
        self._lock = threading.RLock()  # re-entrant: a callback may emit in turn

    def __call__(self, event: EngineEvent) -> None:
        if self.is_main:
            with self._lock:
                self.callbacks.on_event(event)


def _register_builtin_monitors() -> None:
    """Importing these packages registers the pitfall doctor's and the live projection's run monitors."""
    import workbench.core.diagnostics
    import workbench.core.projection  # noqa: F401


def _expected_channels(config: ProjectConfig) -> int:
    """The input channels before the data is read ('auto' may still become 1; the size check does not care)."""
    return 1 if config.preprocessing.channels == "grayscale" else 3


def _seed_everything(seed: int, deterministic: bool) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def train(
    config: ProjectConfig | None,
    callback: Callback | None = None,
    control: RunControl | None = None,
    *,
    resume: str | Path | None = None,
    monitors: list[Monitor] | None = None,
    overrides: dict[str, Any] | None = None,
) -> TrainResult:
    """Train a model as `config` says (or continue the run folder `resume`), reporting through `callback`.

    `monitors` watch the run from the inside; by default the registered diagnostics and projections.
    `overrides` are dotted settings (`{"training.epochs": 30}`), validated with the rest of the config. On
    resume, the settings that can change mid-run are taken from `config` and `overrides`; the rest are the run's.
    """
    control = control or RunControl()
    emit = _Emitter(callback, is_main=True)
    run_id, run_dir = "", None
    store: RunStore | None = None
    ctx = distributed.DistContext()
    try:
        resume_notes: list[str] = []
        # A resume that fails before training starts (data moved, bad settings) leaves the run's status as it was.
        claimed = resume is None
        if resume is not None:
            folder = Path(resume).expanduser().resolve()
            saved = with_updates(RunFolder(folder).load_config(), {"runs_dir": str(folder.parent)})
            config, resume_notes = resume_settings(saved, config, overrides, folder)
            check_epochs_left(saved, config, checkpoint_epoch(folder), folder)
            run_dir, run_id = folder, folder.name  # only now: a refused resume leaves the run's records alone
            if resume_notes:
                save_config(config, RunFolder(run_dir).config)  # a later resume, eval or export sees the new settings
        elif config is not None and overrides:
            config = with_updates(config, overrides, source="the command-line settings")
        if config is None:
            raise ConfigError("no project configuration given")
        device = torch.device(select_device(config.training.device))
        ctx = distributed.init_from_env(device.type)
        if ctx.enabled and device.type == "cuda":
            device = torch.device("cuda", ctx.local_rank)
        emit = _Emitter(callback, ctx.is_main)
        if not config.runs_dir:
            raise ConfigError("runs_dir is empty; save the project first or set where runs are stored")
        store = RunStore(config.runs_dir) if ctx.is_main else None  # before the data: fail fast if unwritable
        if config.model.pretrained:
            emit(LogMessage("info", f"pretrained weights for {config.model.architecture} are loaded from the local "
                                    "cache, or downloaded from the Hugging Face Hub if they are not there yet"))
        if run_dir is None:  # refuse an architecture that cannot take this image size before any folder exists
            preflight_model(run_architecture_config(config), _expected_channels(config), 2)
        data = prepare_run_data(config, run_dir, emit, control)
        if control.stop_requested:
            raise StopRequested(0, {})
        if run_dir is None:
            if store is not None:
                run_id, run_dir = store.create(config)
            run_id, run_dir = distributed.broadcast((run_id, run_dir), ctx)
            assert run_dir is not None
            if ctx.is_main:
                write_data_files(run_dir, config, data)
        elif store is not None:
            store.update(run_id, status="running")
        claimed = True
        if ctx.is_main:
            # The folder is the truth the index is rebuilt from: it says at once that the run is under way.
            write_json(RunFolder(run_dir).status_file, {**RunFolder(run_dir).read_status(), "status": "running"})
            emit.callbacks.callbacks += [MetricsLogCallback(run_dir), RunArtifactsCallback(run_dir, data.class_names)]
            for note in store.notes if store is not None else []:
                emit(LogMessage("warning", note))
            for note in resume_notes:
                emit(LogMessage("info", note))
            for warning in data.warnings:
                emit(LogMessage("warning", warning))
            if data.skipped:
                emit(LogMessage("warning", f"{len(data.skipped)} file(s) were skipped; see data_report.json"))
        if monitors is None:
            _register_builtin_monitors()
        chosen = default_monitors(config) if monitors is None else monitors
        return _run_epochs(config, data, device, ctx, run_id, run_dir, store, emit, control,
                           chosen if ctx.is_main else [])
    except (StopRequested, InterruptedError):  # InterruptedError: stopped while scanning or decoding
        if store is not None and run_id and claimed:
            store.update(run_id, status="stopped", ended=True)
        emit(RunFinished(run_id, str(run_dir or ""), "stopped", 0, {}, 0))
        return TrainResult(run_id, run_dir, "stopped")
    except (ConfigError, DatasetError, ModelBuildError, CheckpointError, RuntimeError, OSError, ValueError) as error:
        reason = readable(error)
        if isinstance(error, OSError):
            reason += saved_files(run_dir)
        return _fail(reason, run_id, run_dir, store, emit, traceback.format_exc(), record=claimed)
    except Exception as error:  # keep the GUI and CLI alive on anything unexpected
        reason = f"unexpected error: {type(error).__name__}: {error}. The full traceback is in the run's log."
        return _fail(reason, run_id, run_dir, store, emit, traceback.format_exc(), record=claimed)
    finally:
        distributed.shutdown(ctx)


def _fail(reason: str, run_id: str, run_dir: Path | None, store: RunStore | None, emit: _Emitter,
          trace: str, kept: str = "", record: bool = True) -> TrainResult:
    """End the run as failed; with `record` False (a refused resume) only the log hears of it."""
    fail(reason, run_id, run_dir, store, emit, trace, kept, record)
    return TrainResult(run_id, run_dir, "failed", reason=reason)


def _run_epochs(
    config: ProjectConfig,
    data: PreparedData,
    device: torch.device,
    ctx: distributed.DistContext,
    run_id: str,
    run_dir: Path,
    store: RunStore | None,
    emit: _Emitter,
    control: RunControl,
    monitors: list[Monitor],
) -> TrainResult:
    tcfg = config.training
    _seed_everything(tcfg.seed, tcfg.deterministic)
    retain_freed_memory()  # each step's activations reuse the last step's memory (allocator.py)
    run = build_run(config, data, device, ctx, run_id, run_dir, store, emit, control)
    resuming = run.saved is not None
    state = resume_state(run)
    # The doctor's memory before the stop, saved beside the checkpoint.
    saved_monitors = load_monitor_states(run_dir / "checkpoints", state.epoch) if resuming else {}
    size = config.preprocessing.image_size
    emit(RunStarted(run_id, str(run_dir), str(device), len(data.class_names), tuple(data.class_names),
                    data.split_sizes(), tcfg.epochs, run.steps_per_epoch, sum(p.numel() for p in run.model.parameters()),
                    (data.in_channels, size, size), state.epoch,
                    baselines(data.labels[run.train_source.indices], data.labels[run.val_source.indices],
                              data.class_names)))
    if ctx.world_size > 1:  # batch_size is per process: say what a step really takes
        emit(LogMessage("info", f"global batch {tcfg.batch_size * ctx.world_size} ({tcfg.batch_size} per process × "
                                f"{ctx.world_size} processes): {run.steps_per_epoch} steps per epoch"))
    context = MonitorContext(config, data, run.model, run.train_source, run.val_source, run_dir, emit, device)
    for monitor in monitors:
        monitor.setup(context)
    restore_monitor_states(monitors, saved_monitors)
    if not run.has_validation:
        emit(FindingRaised("no-validation-split", "warning", "No validation split",
                           "Without validation images, overfitting cannot be seen and the best epoch is chosen "
                           "by training loss.", "Set a validation share above 0.", pane="data"))
    check_disk_space(run_dir, run.model, tcfg.optimizer)
    loop = EpochLoop(run, state, monitors, default_hooks(tcfg.early_stopping_patience,
                                                         run.strategy.replaces_training()))
    status = "failed"
    try:
        try:
            with matmul_weight_gradients(run.conv_plan.modules if run.conv_plan else ()):
                status = loop.run_epochs()
        except StopRequested:
            status = "stopped"
        except NonFiniteLoss as bad:
            run.checkpoints.flush()
            return _non_finite(run, state, bad)
        run.checkpoints.flush()  # last.pt and best.pt are on disk before anyone hears the run ended
    finally:
        run.checkpoints.close()
        for monitor in monitors:
            with contextlib.suppress(Exception):  # a broken monitor must not mask the run's outcome
                monitor.on_run_end(status)
    result = _finish(run, state, status)
    _after_run(monitors, status, control)
    return result


def _after_run(monitors: list[Monitor], status: str, control: RunControl) -> None:
    """The end-of-run diagnostics, after the run was reported finished (curves, metrics and Evaluate are ready);
    a stop request cancels what is left. They are independent, so they run side by side (one thread each:
    most only wait for their helper) and the run ends with the slowest, not after the sum of them."""
    def one(monitor: Monitor) -> None:
        if control.stop_requested:
            return
        try:
            monitor.after_run(status, lambda: control.stop_requested)
        except Exception:  # an end-of-run check never changes the run's outcome
            log.warning("end-of-run work of %s failed", type(monitor).__name__, exc_info=True)

    workers = [threading.Thread(target=one, args=(m,), daemon=True, name=f"workbench-after-{type(m).__name__}")
               for m in monitors]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for monitor in monitors:  # whatever is left (a stop, a monitor that broke): no helper outlives the run
        cancel = getattr(monitor, "cancel", None)
        if callable(cancel):
            with contextlib.suppress(Exception):
                cancel()


def _non_finite(run: TrainingRun, state: TrainState, bad: NonFiniteLoss) -> TrainResult:
    """A NaN or infinite loss: a finding with its likely cause, and a failure that keeps the last good epoch."""
    config = run.config
    diagnosis = nan_diagnosis(config, run.data.stats, run.amp_dtype is not None)
    kept = str(run.last_path) if run.last_path.exists() else ""
    lr = config.training.lr
    run.emit(FindingRaised("non-finite-loss", "problem", "The loss became NaN or infinite",
                           f"{bad}. Training was stopped.", diagnosis,
                           {"epoch": bad.epoch, "batch": bad.batch, "lr": lr, "patch": {"training.lr": lr / 10}}))
    keep_note = (f" The last good checkpoint (epoch {state.epoch}) was kept at {kept}." if kept
                 else " No epoch had finished, so there is no checkpoint to keep.")
    return _fail(f"{bad}. Likely cause: {diagnosis}.{keep_note}", run.run_id, run.run_dir, run.store, run.emit, "", kept)


def _finish(run: TrainingRun, state: TrainState, status: str) -> TrainResult:
    """Write the run's summary, close its index entry and emit RunFinished."""
    epochs_run = len(state.history)
    best_epoch = int(state.best_epoch)
    summary = {"status": status, "best_epoch": best_epoch, "best_metrics": state.best_metrics,
               "epochs_run": epochs_run, "history": state.history, "device": str(run.device),
               "world_size": run.ctx.world_size, "finished": time.time()}
    if run.ctx.is_main:
        previous = read_json(RunFolder(run.run_dir).status_file, {}) or {}
        write_json(RunFolder(run.run_dir).status_file, {**previous, **summary})
        if run.store is not None:
            run.store.update(run.run_id, status=status, best_epoch=best_epoch, best_metrics=state.best_metrics,
                             ended=True)
    run.emit(RunFinished(run.run_id, str(run.run_dir), status, best_epoch, state.best_metrics, epochs_run))
    return TrainResult(run.run_id, run.run_dir, status, best_epoch, state.best_metrics, epochs_run=epochs_run)
