"""What a resumed run keeps from its own folder, and which edited settings it takes.

A stopped run continues with the settings it was started with, except those that can change safely
mid-run: the number of epochs, the learning rate and the early-stopping patience. Everything else
(architecture, image size, batch size, data...) is kept, and the user is told which edits were not used.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from workbench.core.config import ConfigError, ProjectConfig, with_updates
from workbench.core.dotted import flatten
from workbench.core.run_folder import RunFolder

SAFE_TO_CHANGE = ("training.epochs", "training.lr", "training.early_stopping_patience")
# Differences here never matter to a run: where it is stored, and how it is labelled or watched.
_IGNORED_SECTIONS = ("runs_dir", "name", "schema_version", "diagnostics", "evaluation", "export")


def resume_settings(saved: ProjectConfig, edited: ProjectConfig | None, overrides: dict[str, Any] | None,
                    run_dir: Path) -> tuple[ProjectConfig, list[str]]:
    """The config a resumed run uses, and one note per edit applied or not applied.

    `edited` is the project as it is now (the GUI's), `overrides` the command line's (`--epochs`); both are
    compared with `saved`, the run's own config.toml.
    """
    wanted: dict[str, Any] = {}
    kept: list[str] = []
    if edited is not None:
        before, after = flatten(saved.model_dump(mode="json")), flatten(edited.model_dump(mode="json"))
        for key, value in after.items():
            if key.split(".")[0] in _IGNORED_SECTIONS or key == "data.source" or before.get(key) == value:
                continue  # data.source: the same folder may be written differently (relative, a link)
            if key in SAFE_TO_CHANGE:
                wanted[key] = value
            else:
                kept.append(f"{key} (the run has {before.get(key)!r}, the project {value!r})")
    for key, value in (overrides or {}).items():
        if key in SAFE_TO_CHANGE:
            wanted[key] = value
        else:
            kept.append(f"{key} (can only be set when a run starts)")
    config = with_updates(saved, wanted, source=f"the settings for resuming {run_dir.name}") if wanted else saved
    notes = [f"resumed with {key} = {value!r} (the run had {_value(saved, key)!r})"
             for key, value in wanted.items() if _value(saved, key) != value]
    if kept:
        notes.append("kept the run's own settings for " + "; ".join(kept[:8]) + ("; ..." if len(kept) > 8 else "")
                     + ". Only epochs, the learning rate and the early-stopping patience can change when a run "
                       "resumes; start a new run to use the others")
    return config, notes


def check_epochs_left(saved: ProjectConfig, config: ProjectConfig, epochs_done: int, run_dir: Path) -> None:
    """Refuse a resume whose edited epoch count is already reached, rather than 'completing' with nothing done.

    (Resuming a finished run with its own settings stays a harmless no-op.)
    """
    changed = config.training.epochs != saved.training.epochs
    if changed and epochs_done >= config.training.epochs:
        raise ConfigError(
            f"run {run_dir.name} has already trained {epochs_done} epoch(s), and training.epochs is "
            f"{config.training.epochs}; give more epochs to continue it (for example --epochs {epochs_done + 5})"
        )


def _value(config: ProjectConfig, key: str) -> Any:
    value: Any = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


def checkpoint_epoch(run_dir: Path) -> int:
    """Epochs finished according to the run's last.pt (0 when there is none or it cannot be read)."""
    import torch

    path = RunFolder(run_dir).last_checkpoint
    if not path.exists():
        return 0
    try:  # memory-mapped: only the small 'epoch' entry is read, however large the weights
        return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True).get("epoch", 0))
    except Exception:  # a damaged checkpoint is dealt with when the run loads it
        return 0


def resume_point(last_path: Path, best_path: Path) -> tuple[dict[str, Any] | None, str]:
    """The checkpoint to continue from, and a note when it is not the run's last.pt.

    A damaged last.pt falls back to best.pt (weights and epoch only: the optimizer starts afresh). None means
    there is nothing to continue from, and the run starts at epoch 1.
    """
    from workbench.core.training.checkpoints import CheckpointError, load_checkpoint

    if not last_path.exists():
        return None, ""
    try:
        return load_checkpoint(last_path), ""
    except CheckpointError as error:
        reason = str(error)
        if not best_path.exists():
            raise CheckpointError(f"{error}. There is no best.pt to fall back on; start a new run") from None
        try:
            best = load_checkpoint(best_path)
        except CheckpointError as second:
            raise CheckpointError(f"{error}; best.pt cannot be read either ({second}). Start a new run") from None
    epoch = int(best.get("epoch", 0))
    return ({"model": best["model"], "epoch": epoch},
            f"{reason}. Continuing from best.pt (epoch {epoch}) instead, with a fresh optimizer state; "
            "the epochs after it are trained again")


def trim_metrics(run_dir: Path, keep_through: int) -> int:
    """Move metrics.jsonl's training lines after epoch `keep_through` to metrics.before-restart.jsonl.

    A run continued from an earlier point (or from scratch) would otherwise log epochs 1, 2, 3, 1, 2, 3.
    Returns how many lines were moved.
    """
    import json

    from workbench.core.io import atomic_write_text

    path = RunFolder(run_dir).metrics
    if not path.exists():
        return 0
    kept, moved = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            moved.append(line)
            continue
        later = isinstance(record, dict) and record.get("phase", "supervised") == "supervised" \
            and int(record.get("epoch", 0)) > keep_through
        (moved if later else kept).append(line)
    if moved:
        with (run_dir / "metrics.before-restart.jsonl").open("a", encoding="utf-8") as handle:
            handle.write("\n".join(moved) + "\n")
        atomic_write_text(path, "".join(f"{line}\n" for line in kept))
    return len(moved)


def history_from_metrics(run_dir: Path, through: int) -> list[dict[str, Any]]:
    """The run's per-epoch history up to epoch `through`, read back from metrics.jsonl (after a fallback)."""
    import json

    path = RunFolder(run_dir).metrics
    history = []
    for line in (path.read_text(encoding="utf-8").splitlines() if path.exists() else []):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("phase", "supervised") == "supervised" and int(record.get("epoch", 0)) <= through:
            history.append({k: v for k, v in record.items() if k not in ("phase", "seconds", "is_best")})
    return history


def apply_new_lr(optimizer: Any, scheduler: Any, saved_lr: float, new_lr: float) -> None:
    """On resume with an edited learning rate: scale every group's base rate, keeping the schedule's position."""
    if math.isclose(saved_lr, new_lr) or saved_lr <= 0:
        return
    ratio = new_lr / saved_lr
    scheduler.base_lrs = [base * ratio for base in scheduler.base_lrs]
    for group, base, factor in zip(optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas, strict=True):
        group["initial_lr"] = base
        group["lr"] = base * factor(scheduler.last_epoch)
