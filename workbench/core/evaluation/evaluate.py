"""Evaluating a finished run on one of its splits. The test split is locked: each use is recorded."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.core.config import ConfigError, ProjectConfig, load_config
from workbench.core.data.pipeline import PreparedData, prepare_data
from workbench.core.data.stats import NormStats
from workbench.core.devices import select_device
from workbench.core.evaluation.metrics import classification_metrics
from workbench.core.models.factory import build_model
from workbench.core.runs import read_json, write_json
from workbench.core.training.checkpoints import load_checkpoint
from workbench.core.training.loop import BatchSource, predict


@dataclass
class LoadedRun:
    run_dir: Path
    config: ProjectConfig
    class_names: list[str]
    stats: NormStats
    model: nn.Module
    device: torch.device
    checkpoint_epoch: int


def load_run(run_dir: str | Path, which: str = "best", device: str = "auto") -> LoadedRun:
    """The run's config, statistics and trained model (weights from `which`: 'best' or 'last')."""
    run_dir = Path(run_dir).expanduser().resolve()
    if not (run_dir / "config.toml").exists():
        raise ConfigError(f"{run_dir} is not a Workbench run folder (it has no config.toml)")
    config = load_config(run_dir / "config.toml")
    class_names = read_json(run_dir / "classes.json")
    stats_data = read_json(run_dir / "norm_stats.json")
    if not class_names or not stats_data:
        raise ConfigError(f"run {run_dir.name} has no class list or statistics; it did not get past data preparation")
    path = run_dir / "checkpoints" / f"{which}.pt"
    if not path.exists():
        path = run_dir / "checkpoints" / "last.pt"
    saved = load_checkpoint(path)
    stats = NormStats.from_dict(stats_data)
    in_channels = 1 if read_json(run_dir / "data_report.json", {}).get("channels", "rgb") == "grayscale" else 3
    model = build_model(config.model_copy(update={"model": config.model.model_copy(update={"pretrained": False})}),
                        in_channels, len(class_names))
    model.load_state_dict(saved["model"])
    chosen = torch.device(select_device(device if device != "auto" else config.training.device))
    return LoadedRun(run_dir, config, class_names, stats, model.to(chosen).eval(), chosen, int(saved.get("epoch", 0)))


def run_predictions(run: LoadedRun, data: PreparedData, split: str) -> dict[str, np.ndarray]:
    source = BatchSource(data=data, indices=data.indices(split), batch_size=run.config.training.batch_size,
                         device=run.device, stats=run.stats)
    return predict(run.model, source)


def evaluate_run(run_dir: str | Path, split: str = "test", *, data: PreparedData | None = None,
                 progress=None) -> dict[str, Any]:
    """Metrics of the run's best model on `split`. Using the test split is recorded in run.json and counted."""
    run = load_run(run_dir)
    if data is None:
        data = prepare_data(run.config, manifest=run.run_dir / "split.csv", class_names=run.class_names,
                            stats=run.stats, progress=progress)
    if len(data.indices(split)) == 0:
        raise ConfigError(f"the {split} split of run {run.run_dir.name} is empty; set a {split} share above 0")
    out = run_predictions(run, data, split)
    metrics = classification_metrics(out["labels"], out["probs"].argmax(1), run.class_names)
    status = read_json(run.run_dir / "run.json", {}) or {}
    result: dict[str, Any] = {
        **metrics,
        "split": split,
        "class_names": run.class_names,
        "checkpoint_epoch": run.checkpoint_epoch,
        "best_val_metrics": status.get("best_metrics", {}),
    }
    if split == "test":
        uses = list(status.get("test_evaluations", []))
        uses.append({"time": time.strftime("%Y-%m-%d %H:%M:%S"), "checkpoint_epoch": run.checkpoint_epoch,
                     "accuracy": metrics["accuracy"]})
        result["test_uses"] = len(uses)
        result["warning"] = (
            f"The test set has now been used {len(uses)} times. Choices made after looking at test results "
            "make them optimistic; report this count." if len(uses) > 1 else ""
        )
        write_json(run.run_dir / "run.json", {**status, "test_evaluations": uses})
        write_json(run.run_dir / "test_metrics.json", result)
    return result
