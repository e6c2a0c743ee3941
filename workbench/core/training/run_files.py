"""The files a run writes before training and reads back on resume: config, split, classes, statistics.

Also the check, before the first batch, that the run folder has room for its checkpoints.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from torch import nn

from workbench.core.config import ProjectConfig, save_config
from workbench.core.data.pipeline import PreparedData, prepare_data
from workbench.core.data.splits import read_manifest, write_manifest
from workbench.core.data.stamps import changed_since_start, write_stamps
from workbench.core.data.stats import NormStats
from workbench.core.evaluation.test_set import write_test_files
from workbench.core.events import EngineEvent, StageProgress
from workbench.core.run_folder import RunFolder
from workbench.core.runs import read_json, write_json
from workbench.core.training.control import RunControl
from workbench.core.training.optim import OPTIMIZERS


def prepare_run_data(config: ProjectConfig, run_dir: Path | None, emit: Callable[[EngineEvent], None],
                     control: RunControl) -> PreparedData:
    """The data of a new run, or of `run_dir` exactly as it was split and normalised when it started."""
    def stage(name: str, done: int, total: int) -> None:
        emit(StageProgress(name, done, total))

    if run_dir is not None and RunFolder(run_dir).split.exists():
        folder = RunFolder(run_dir)
        classes = read_json(folder.classes)
        stats_data = read_json(folder.norm_stats)
        stats = NormStats.from_dict(stats_data) if stats_data else None
        samples, _ = read_manifest(folder.split)
        changed = changed_since_start(run_dir, [s.path for s in samples])
        data = prepare_data(config, manifest=folder.split, class_names=classes, stats=stats,
                            cache_dir=run_dir / "cache", stage_progress=stage,
                            should_stop=lambda: control.stop_requested)
        if changed:
            data.warnings.insert(0, changed)
        return data
    return prepare_data(config, stage_progress=stage, should_stop=lambda: control.stop_requested)


def write_data_files(run_dir: Path, config: ProjectConfig, data: PreparedData) -> str:
    """Write the config, split manifest, classes, statistics and data report; returns the manifest's hash."""
    folder = RunFolder(run_dir)
    save_config(config, folder.config)
    manifest_sha = write_manifest(folder.split, data.samples, data.splits)
    write_test_files(run_dir)  # the test images' content hashes: later evaluations check them
    write_stamps(run_dir, [s.path for s in data.samples])
    write_json(folder.classes, data.class_names)
    data.stats.save(folder.norm_stats)
    write_json(run_dir / "data_report.json", {
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


def check_disk_space(run_dir: Path, model: nn.Module, optimizer_name: str) -> None:
    """Refuse to start when the run folder cannot hold two checkpoints (weights plus optimizer state)."""
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    states = OPTIMIZERS[optimizer_name].state_per_weight
    need = weights * (2 + states) + 16 * 2**20
    free = shutil.disk_usage(run_dir).free
    if free < need:
        raise OSError(28, f"only {free / 2**20:.0f} MiB free where the run is saved; it needs about "
                          f"{need / 2**20:.0f} MiB for its checkpoints. Free space or choose another runs folder",
                      str(run_dir))
