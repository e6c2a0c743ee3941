"""How a failed run is reported: a readable reason, what it kept, and the traceback in its log.

User errors never escape the engine as exceptions; `fail` ends the run with a RunFailed event, marks
the run folder and the index, and says which files are safe.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from workbench.core.events import EngineEvent, RunFailed
from workbench.core.io import os_error_message
from workbench.core.run_folder import CONFIG, METRICS, SPLIT, RunFolder
from workbench.core.runs import RunStore, read_json, write_json
from workbench.core.training.checkpoints import CheckpointError, load_checkpoint
from workbench.core.training.optim import OPTIMIZERS

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig
    from workbench.core.data.stats import NormStats

log = logging.getLogger("workbench.core.training.engine")


def nan_diagnosis(config: ProjectConfig, stats: NormStats, amp: bool) -> str:
    """The likely causes of a NaN loss, each with its fix."""
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


def saved_files(run_dir: Path | None) -> str:
    """What a failed run kept, in a phrase, so the user knows what is safe."""
    if run_dir is None or not run_dir.exists():
        return ""
    kept = []
    for name in ("last", "best"):
        path = run_dir / "checkpoints" / f"{name}.pt"
        if path.exists():
            try:
                epoch = load_checkpoint(path).get("epoch", "?")
            except CheckpointError:
                continue
            kept.append(f"checkpoints/{name}.pt (epoch {epoch})")
    kept += [n for n in (CONFIG, SPLIT, METRICS) if (run_dir / n).exists()]
    return f" Saved in {run_dir}: {', '.join(kept)}." if kept else ""


def readable(error: Exception) -> str:
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


def scrub(text: str) -> str:
    """Hide installation and home paths in tracebacks, so a shared log shows no more than the dataset paths."""
    import sys

    for prefix, label in ((sys.prefix, "<python>"), (sys.base_prefix, "<python>"), (str(Path.home()), "~")):
        if prefix and len(prefix) > 1:
            text = text.replace(prefix, label)
    return text


def fail(reason: str, run_id: str, run_dir: Path | None, store: RunStore | None, emit: Callable[[EngineEvent], None],
         trace: str, kept: str = "", record: bool = True) -> RunFailed:
    """Record the failure in the run folder and the index, emit RunFailed and return it; with `record` False
    (a refused resume) only the run's log hears of it."""
    trace = scrub(trace)
    log.debug(trace)
    if run_dir is not None and run_dir.exists():
        try:
            with (run_dir / "log.txt").open("a", encoding="utf-8") as handle:
                handle.write(f"{'run failed' if record else 'resume refused'}: {reason}\n{trace}\n")
            if record:
                status = read_json(RunFolder(run_dir).status_file, {}) or {}
                write_json(RunFolder(run_dir).status_file, {**status, "status": "failed", "reason": reason})
        except OSError:
            pass
    if store is not None and run_id and record:
        with contextlib.suppress(Exception):  # the index must never hide the original error
            store.update(run_id, status="failed", ended=True)
    event = RunFailed(run_id, str(run_dir or ""), reason, kept)
    emit(event)
    return event
