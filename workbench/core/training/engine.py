"""The training engine: one entry point, `train`, shared by the GUI runner, the CLI and torchrun.

It prepares the data, builds the model, runs epochs with validation, writes checkpoints and the run
folder, and reports everything through events. User errors never escape as exceptions: they end the
run with a RunFailed event that says what happened and what to do.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.core.callbacks import Callback, CallbackList, MetricsLogCallback, RunArtifactsCallback
from workbench.core.config import ConfigError, ProjectConfig, save_config, with_updates
from workbench.core.data.errors import DatasetError
from workbench.core.data.pipeline import PreparedData, prepare_data
from workbench.core.data.splits import write_manifest
from workbench.core.data.stamps import changed_since_start, write_stamps
from workbench.core.data.stats import NormStats
from workbench.core.data.transforms import build_augmentation
from workbench.core.devices import select_device
from workbench.core.evaluation.baselines import baselines
from workbench.core.evaluation.metrics import classification_metrics
from workbench.core.evaluation.test_set import write_test_files
from workbench.core.events import (
    BatchEnded,
    CheckpointSaved,
    EngineEvent,
    EpochEnded,
    FindingRaised,
    LogMessage,
    RunFailed,
    RunFinished,
    RunStarted,
    StageProgress,
)
from workbench.core.io import os_error_message
from workbench.core.models.factory import ModelBuildError, build_model, preflight_model
from workbench.core.run_folder import RunFolder
from workbench.core.runs import RunStore, read_json, write_json
from workbench.core.strategies import load_strategy
from workbench.core.strategies.base import Strategy, StrategyContext
from workbench.core.strategies.layout import run_architecture_config
from workbench.core.training import distributed
from workbench.core.training.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from workbench.core.training.control import RunControl
from workbench.core.training.loop import BatchSource, NonFiniteLoss, StopRequested, evaluate, train_one_epoch
from workbench.core.training.monitors import (
    Monitor,
    MonitorContext,
    default_monitors,
    load_monitor_states,
    restore_monitor_states,
    save_monitor_states,
)
from workbench.core.training.optim import OPTIMIZERS, build_optimizer, build_scheduler
from workbench.core.training.resume import (
    apply_new_lr,
    check_epochs_left,
    checkpoint_epoch,
    history_from_metrics,
    resume_point,
    resume_settings,
    trim_metrics,
)

log = logging.getLogger(__name__)

MAXIMISE = {"val_accuracy", "val_balanced_accuracy", "val_macro_f1"}


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
    """Sends events to the callbacks on rank 0 only."""

    def __init__(self, callback: Callback | None, is_main: bool) -> None:
        self.callbacks = CallbackList([callback] if callback is not None else [])
        self.is_main = is_main

    def __call__(self, event: EngineEvent) -> None:
        if self.is_main:
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


def _loss_fn(config: ProjectConfig, data: PreparedData, device: torch.device) -> nn.Module:
    weight = None
    if config.training.class_weighting:
        counts = np.asarray(data.class_counts("train"), dtype=np.float64)
        weights = counts.sum() / (len(counts) * np.maximum(counts, 1))
        weight = torch.tensor(weights, dtype=torch.float32, device=device)
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=config.training.label_smoothing)


def _amp_dtype(config: ProjectConfig, device: torch.device) -> torch.dtype | None:
    if device.type != "cuda" or not config.training.amp:
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _monitor_value(name: str, train_loss: float, val: dict[str, Any], has_val: bool) -> float:
    if not has_val:
        return train_loss
    if name == "val_loss":
        return float(val["loss"])
    return float(val[name.removeprefix("val_")])


def _improved(name: str, value: float, best: float | None) -> bool:
    if best is None or math.isnan(best):
        return not math.isnan(value)
    return value > best if name in MAXIMISE else value < best


def _nan_diagnosis(config: ProjectConfig, stats: NormStats, amp: bool) -> str:
    causes = []
    adaptive = OPTIMIZERS[config.training.optimizer].adaptive  # Adam-like rates diverge sooner than SGD's
    if config.training.lr >= 0.1 or (adaptive and config.training.lr >= 0.01):
        causes.append(f"the learning rate ({config.training.lr:g}) is too high for {config.training.optimizer}: "
                      "divide it by 10")
    if stats.mode == "none" and stats.value_scale > 1:
        causes.append(f"the input is not normalised (raw values up to {stats.value_scale:g}): choose z-score "
                      "or min–max normalisation")
    if amp:
        causes.append("mixed precision (AMP) overflowed: turn AMP off")
    if not causes:
        causes.append("the learning rate may still be too high: divide it by 10, or add warm-up epochs")
    return "; ".join(causes)


def _prepare_run_data(
    config: ProjectConfig, run_dir: Path | None, emit: _Emitter, control: RunControl
) -> PreparedData:
    def stage(name: str, done: int, total: int) -> None:
        emit(StageProgress(name, done, total))

    if run_dir is not None and RunFolder(run_dir).split.exists():
        classes = read_json(RunFolder(run_dir).classes)
        stats_data = read_json(RunFolder(run_dir).norm_stats)
        stats = NormStats.from_dict(stats_data) if stats_data else None
        from workbench.core.data.splits import read_manifest

        samples, _ = read_manifest(RunFolder(run_dir).split)
        changed = changed_since_start(run_dir, [s.path for s in samples])
        data = prepare_data(config, manifest=RunFolder(run_dir).split, class_names=classes, stats=stats,
                            cache_dir=run_dir / "cache", stage_progress=stage,
                            should_stop=lambda: control.stop_requested)
        if changed:
            data.warnings.insert(0, changed)
        return data
    return prepare_data(config, stage_progress=stage, should_stop=lambda: control.stop_requested)


def _write_data_files(run_dir: Path, config: ProjectConfig, data: PreparedData) -> str:
    save_config(config, RunFolder(run_dir).config)
    manifest_sha = write_manifest(RunFolder(run_dir).split, data.samples, data.splits)
    write_test_files(run_dir)  # the test images' content hashes: later evaluations check them
    write_stamps(run_dir, [s.path for s in data.samples])
    write_json(RunFolder(run_dir).classes, data.class_names)
    data.stats.save(RunFolder(run_dir).norm_stats)
    write_json(RunFolder(run_dir).data_report, {
        "source": config.data.source,
        "layout": data.layout,
        "classes": data.class_names,
        "split_sizes": data.split_sizes(),
        "class_counts": {s: data.class_counts(s) for s in ("train", "val", "test")},
        "channels": data.images.channels,
        "value_scale": data.images.value_scale,
        "skipped": [{"path": s.path, "reason": s.reason} for s in data.skipped],
        "warnings": data.warnings,
        "manifest_sha256": manifest_sha,
    })
    return manifest_sha


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
        data = _prepare_run_data(config, run_dir, emit, control)
        if control.stop_requested:
            raise StopRequested(0, {})
        if run_dir is None:
            if store is not None:
                run_id, run_dir = store.create(config)
            run_id, run_dir = distributed.broadcast((run_id, run_dir), ctx)
            assert run_dir is not None
            if ctx.is_main:
                _write_data_files(run_dir, config, data)
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
        reason = _readable(error)
        if isinstance(error, OSError):
            reason += _saved_files(run_dir)
        return _fail(reason, run_id, run_dir, store, emit, traceback.format_exc(), record=claimed)
    except Exception as error:  # keep the GUI and CLI alive on anything unexpected
        reason = f"unexpected error: {type(error).__name__}: {error}. The full traceback is in the run's log."
        return _fail(reason, run_id, run_dir, store, emit, traceback.format_exc(), record=claimed)
    finally:
        distributed.shutdown(ctx)


def _check_disk_space(run_dir: Path, model: nn.Module, optimizer_name: str) -> None:
    """Refuse to start when the run folder cannot hold two checkpoints (weights plus optimizer state)."""
    import shutil

    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    states = OPTIMIZERS[optimizer_name].state_per_weight
    need = weights * (2 + states) + 16 * 2**20
    free = shutil.disk_usage(run_dir).free
    if free < need:
        raise OSError(28, f"only {free / 2**20:.0f} MiB free where the run is saved; it needs about "
                          f"{need / 2**20:.0f} MiB for its checkpoints. Free space or choose another runs folder",
                      str(run_dir))


def _saved_files(run_dir: Path | None) -> str:
    """What a failed run kept, in a phrase, so the user knows what is safe."""
    if run_dir is None or not run_dir.exists():
        return ""
    kept = []
    for name in ("last", "best"):
        path = RunFolder(run_dir).checkpoint(name)
        if path.exists():
            try:
                epoch = load_checkpoint(path).get("epoch", "?")
            except CheckpointError:
                continue
            kept.append(f"checkpoints/{name}.pt (epoch {epoch})")
    folder = RunFolder(run_dir)
    kept += [p.name for p in (folder.config, folder.split, folder.metrics) if p.exists()]
    return f" Saved in {run_dir}: {', '.join(kept)}." if kept else ""


def _readable(error: Exception) -> str:
    if isinstance(error, torch.OutOfMemoryError):
        return "the device ran out of memory: lower the batch size or the image size"
    if isinstance(error, OSError) and getattr(error, "errno", None) == 28:
        detail = error.strerror if error.strerror and "free" in error.strerror else "the disk is full"
        return f"{detail} ({error.filename or 'runs folder'}); free space or choose another runs folder"
    if isinstance(error, PermissionError):
        return f"{error.strerror or 'permission denied'} ({error.filename}): choose a runs folder you can write to"
    if isinstance(error, OSError) and error.errno is not None:
        return os_error_message(error)
    return str(error)


def _scrub(text: str) -> str:
    """Hide installation and home paths in tracebacks, so a shared log shows no more than the dataset paths."""
    import sys

    for prefix, label in ((sys.prefix, "<python>"), (sys.base_prefix, "<python>"), (str(Path.home()), "~")):
        if prefix and len(prefix) > 1:
            text = text.replace(prefix, label)
    return text


def _fail(reason: str, run_id: str, run_dir: Path | None, store: RunStore | None, emit: _Emitter,
          trace: str, kept: str = "", record: bool = True) -> TrainResult:
    """End the run as failed; with `record` False (a refused resume) only the log hears of it."""
    trace = _scrub(trace)
    log.debug(trace)
    if run_dir is not None and run_dir.exists():
        try:
            with RunFolder(run_dir).log.open("a", encoding="utf-8") as handle:
                handle.write(f"{'run failed' if record else 'resume refused'}: {reason}\n{trace}\n")
            if record:
                status = RunFolder(run_dir).read_status()
                write_json(RunFolder(run_dir).status_file, {**status, "status": "failed", "reason": reason})
        except OSError:
            pass
    if store is not None and run_id and record:
        with contextlib.suppress(Exception):  # the index must never hide the original error
            store.update(run_id, status="failed", ended=True)
    emit(RunFailed(run_id, str(run_dir or ""), reason, kept))
    return TrainResult(run_id, run_dir, "failed", reason=reason)


def _after_run(monitors: list[Monitor], status: str, control: RunControl) -> None:
    """The end-of-run diagnostics, after the run was reported finished (curves, metrics and Evaluate are ready);
    a stop request cancels what is left."""
    for monitor in monitors:
        if control.stop_requested:
            break
        try:
            monitor.after_run(status, lambda: control.stop_requested)
        except Exception:  # an end-of-run check never changes the run's outcome
            log.warning("end-of-run work of %s failed", type(monitor).__name__, exc_info=True)
    for monitor in monitors:  # whatever is left (a stop, a monitor that broke): no helper outlives the run
        cancel = getattr(monitor, "cancel", None)
        if callable(cancel):
            with contextlib.suppress(Exception):
                cancel()


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
    num_classes = len(data.class_names)
    strategy: Strategy = load_strategy(config.strategy.name)
    sctx = StrategyContext(config, data, device, run_dir, emit, control, ctx.is_main)
    ckpt_dir = RunFolder(run_dir).checkpoints
    last_path, best_path = RunFolder(run_dir).last_checkpoint, RunFolder(run_dir).best_checkpoint
    saved, fallback_note = resume_point(last_path, best_path)  # each rank reads the same files
    resuming = saved is not None
    model = strategy.build_model(sctx) or build_model(config, data.in_channels, num_classes)
    strategy.prepare_model(model, sctx, resuming)
    model = model.to(device)
    use_channels_last = tcfg.channels_last and device.type == "cuda"
    if use_channels_last:
        model = model.to(memory_format=torch.channels_last)
    train_model: nn.Module = model
    if ctx.enabled:
        train_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    train_idx, val_idx = data.indices("train"), data.indices("val")
    common = dict(data=data, batch_size=tcfg.batch_size, device=device, stats=data.stats,
                  channels_last=use_channels_last)
    train_source = BatchSource(indices=train_idx, transform=build_augmentation(
        config.preprocessing.augmentation, config.preprocessing.image_size),
        shard=distributed.sharder(len(train_idx), ctx, tcfg.seed), **common)
    val_source = BatchSource(indices=val_idx, **common)
    steps_per_epoch = len(train_source.batches(train_source.epoch_order(0, tcfg.seed)))
    optimizer = build_optimizer(strategy.param_groups(model, sctx), tcfg)
    scheduler = build_scheduler(optimizer, tcfg, steps_per_epoch)
    loss_fn = _loss_fn(config, data, device)
    amp_dtype = _amp_dtype(config, device)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None

    state: dict[str, Any] = {"epoch": 0, "next_batch": 0, "partial": {}, "best_value": None, "best_epoch": 0,
                             "best_metrics": {}, "stale_epochs": 0, "history": []}
    saved_monitors: dict[str, Any] = {}
    if saved is not None:
        model.load_state_dict(saved["model"])
        if "optimizer" in saved:
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
        else:  # fell back to best.pt: a fresh optimizer, the schedule moved on to that epoch
            for _ in range(int(saved["epoch"]) * steps_per_epoch):
                scheduler.step()
            saved = {**saved, "history": history_from_metrics(run_dir, int(saved["epoch"])),
                     "best_epoch": int(saved["epoch"])}
            emit(LogMessage("warning", fallback_note))
        if scaler is not None and "scaler" in saved:
            scaler.load_state_dict(saved["scaler"])
        state.update({k: saved[k] for k in state if k in saved})
        apply_new_lr(optimizer, scheduler, float(saved.get("base_lr") or tcfg.lr), tcfg.lr)
        saved_monitors = load_monitor_states(ckpt_dir, int(state["epoch"]))  # the doctor's memory before the stop
        emit(LogMessage("info", f"resumed from epoch {state['epoch']}" +
                        (f", batch {state['next_batch']}" if state["next_batch"] else "")))
    if ctx.is_main and trim_metrics(run_dir, int(state["epoch"])):
        emit(LogMessage("warning", f"the run had no usable checkpoint after epoch {state['epoch']}, so training "
                                   f"continues from there; the metrics of the epochs after it were moved to "
                                   "metrics.before-restart.jsonl"))
    resumed_from = int(state["epoch"])
    parameter_count = sum(p.numel() for p in model.parameters())
    size = config.preprocessing.image_size
    emit(RunStarted(run_id, str(run_dir), str(device), num_classes, tuple(data.class_names), data.split_sizes(),
                    tcfg.epochs, steps_per_epoch, parameter_count, (data.in_channels, size, size), resumed_from,
                    baselines(data.labels[train_idx], data.labels[val_idx], data.class_names)))
    if ctx.world_size > 1:  # batch_size is per process: say what a step really takes
        emit(LogMessage("info", f"global batch {tcfg.batch_size * ctx.world_size} ({tcfg.batch_size} per process × "
                                f"{ctx.world_size} processes): {steps_per_epoch} steps per epoch"))
    context = MonitorContext(config, data, model, train_source, val_source, run_dir, emit, device)
    for monitor in monitors:
        monitor.setup(context)
    restore_monitor_states(monitors, saved_monitors)
    if len(val_idx) == 0:
        emit(FindingRaised("no-validation-split", "warning", "No validation split",
                           "Without validation images, overfitting cannot be seen and the best epoch is chosen "
                           "by training loss.", "Set a validation share above 0.", pane="data"))

    def checkpoint(kind: str, epoch_done: int, next_batch: int = 0, partial: dict | None = None) -> None:
        if not ctx.is_main:
            return
        payload = {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            **{k: v for k, v in state.items()}, "epoch": epoch_done, "next_batch": next_batch,
            "partial": partial or {}, "class_names": list(data.class_names), "base_lr": tcfg.lr,
        }
        if scaler is not None:
            payload["scaler"] = scaler.state_dict()
        save_checkpoint(payload, last_path)
        emit(CheckpointSaved(epoch_done, str(last_path), kind))

    def on_oom(old: int, new: int) -> None:
        emit(FindingRaised(
            "out-of-memory", "warning", "Out of memory: batch size halved",
            f"A batch of {old} images did not fit in the memory of {device}. It was retried as two halves, and "
            f"training goes on with batches of {new}.",
            f"Set the batch size to {new} (or lower the image size) to avoid the retry.",
            {"old_batch_size": old, "new_batch_size": new, "patch": {"training.batch_size": new}}, pane="strategy"))

    _check_disk_space(run_dir, model, tcfg.optimizer)
    global_step = resumed_from * steps_per_epoch + int(state["next_batch"])
    epoch = resumed_from + 1
    status = "completed"
    try:
        while epoch <= tcfg.epochs:
            torch.manual_seed(tcfg.seed * 1000 + epoch * 10 + ctx.rank)
            strategy.on_epoch_start(epoch, model, optimizer, sctx)
            order = strategy.select_indices(epoch, train_source.epoch_order(epoch, tcfg.seed), sctx)
            data_fraction = len(np.unique(order)) / max(1, len(train_idx) // ctx.world_size)
            batches = train_source.batches(order)

            def on_batch(b: int, n: int, loss: float, lr: float, ips: float, _epoch: int = epoch) -> None:
                nonlocal global_step
                global_step += 1
                emit(BatchEnded(_epoch, b, n, loss, lr, ips * ctx.world_size, global_step))

            def on_step(_model: nn.Module, x: torch.Tensor, y: torch.Tensor, logits: torch.Tensor,
                        _epoch: int = epoch) -> None:
                loss_value = float(loss_fn(logits.detach().float(), y))
                for monitor in monitors:
                    monitor.on_step(global_step + 1, _epoch, loss_value, x, y, logits)

            if strategy.replaces_training():
                result = strategy.fit(model, sctx)
            else:
                result = train_one_epoch(
                    train_model, train_source, batches, optimizer, scheduler, loss_fn, epoch=epoch,
                    start_batch=int(state["next_batch"]), partial=state["partial"] or None, scaler=scaler,
                    amp_dtype=amp_dtype, control=control, on_batch=on_batch, on_step=on_step if monitors else None,
                    on_oom=on_oom,
                )
            state["next_batch"], state["partial"] = 0, {}
            loss_sum, count = distributed.all_sum([result.loss * result.images, float(result.images)], ctx, device)
            train_loss = loss_sum / max(count, 1.0)
            val = evaluate(model, val_source, nn.CrossEntropyLoss(), amp_dtype) if len(val_idx) else {"loss": math.nan}
            metrics = (classification_metrics(val["labels"], np.asarray(val["probs"]).argmax(1), data.class_names)
                       if len(val_idx) else {})
            val_loss = float(val["loss"])
            value = _monitor_value(tcfg.monitor, train_loss, {**metrics, "loss": val_loss}, bool(len(val_idx)))
            is_best = _improved(tcfg.monitor, value, state["best_value"])
            # The rate the epoch trained with: the scheduler has already moved on to the next step's rate.
            lr = result.lr if getattr(result, "lr", None) is not None else optimizer.param_groups[0]["lr"]
            headline = {k: v for k, v in metrics.items() if isinstance(v, float)}
            state["history"].append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                                     "train_accuracy": result.accuracy, "lr": lr,
                                     "seconds": result.seconds, **headline})  # sums to the whole run's time
            if is_best:
                state.update(best_value=value, best_epoch=epoch, stale_epochs=0,
                             best_metrics={"val_loss": val_loss, **headline})
                if ctx.is_main:
                    save_checkpoint({"model": model.state_dict(), "epoch": epoch,
                                     "class_names": list(data.class_names)}, best_path)
            else:
                state["stale_epochs"] += 1
            checkpoint("last", epoch)
            if is_best:
                emit(CheckpointSaved(epoch, str(best_path), "best"))
            single_fit = strategy.replaces_training()  # one fit: no "epoch 1/15", no learning rate to report
            emit(EpochEnded(epoch, 1 if single_fit else tcfg.epochs, train_loss, val_loss, result.accuracy, metrics,
                            lr, result.seconds, is_best, data_fraction=min(1.0, data_fraction), single_fit=single_fit))
            for monitor in monitors:
                monitor.on_epoch_end(epoch, {**state["history"][-1], "metrics": metrics, "is_best": is_best})
            if ctx.is_main:
                save_monitor_states(ckpt_dir, monitors, epoch)  # what the doctor saw, for Resume
            if store is not None:
                store.update(run_id, best_epoch=int(state["best_epoch"]), best_metrics=state["best_metrics"])
            if strategy.replaces_training():
                break  # one fit is the whole training
            if tcfg.early_stopping_patience and state["stale_epochs"] >= tcfg.early_stopping_patience:
                status = "early_stopped"
                emit(LogMessage("info", f"early stopping: no improvement of {tcfg.monitor} for "
                                        f"{state['stale_epochs']} epochs; best epoch {state['best_epoch']}"))
                break
            epoch += 1
    except StopRequested as stop:
        checkpoint("stop", epoch - 1, stop.next_batch, stop.partial)
        if ctx.is_main:
            save_monitor_states(ckpt_dir, monitors, epoch - 1)
        status = "stopped"
    except NonFiniteLoss as bad:
        diagnosis = _nan_diagnosis(config, data.stats, amp_dtype is not None)
        kept = str(last_path) if last_path.exists() else ""
        emit(FindingRaised("non-finite-loss", "problem", "The loss became NaN or infinite",
                           f"{bad}. Training was stopped.", diagnosis,
                           {"epoch": bad.epoch, "batch": bad.batch, "lr": tcfg.lr, "patch": {"training.lr": tcfg.lr / 10}}))
        keep_note = (f" The last good checkpoint (epoch {epoch - 1}) was kept at {kept}." if kept
                     else " No epoch had finished, so there is no checkpoint to keep.")
        status = "failed"
        return _fail(f"{bad}. Likely cause: {diagnosis}.{keep_note}", run_id, run_dir, store, emit, "", kept)
    except BaseException:
        status = "failed"
        raise
    finally:
        for monitor in monitors:
            with contextlib.suppress(Exception):  # a broken monitor must not mask the run's outcome
                monitor.on_run_end(status)

    epochs_run = len(state["history"])
    summary = {"status": status, "best_epoch": int(state["best_epoch"]), "best_metrics": state["best_metrics"],
               "epochs_run": epochs_run, "history": state["history"], "device": str(device),
               "world_size": ctx.world_size, "finished": time.time()}
    if ctx.is_main:
        previous = RunFolder(run_dir).read_status()
        write_json(RunFolder(run_dir).status_file, {**previous, **summary})
        if store is not None:
            store.update(run_id, status=status, best_epoch=int(state["best_epoch"]),
                         best_metrics=state["best_metrics"], ended=True)
    emit(RunFinished(run_id, str(run_dir), status, int(state["best_epoch"]), state["best_metrics"], epochs_run))
    _after_run(monitors, status, control)
    return TrainResult(run_id, run_dir, status, int(state["best_epoch"]), state["best_metrics"], epochs_run=epochs_run)
