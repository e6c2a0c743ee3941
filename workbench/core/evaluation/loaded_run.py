"""A trained model loaded with everything inference needs, from a run folder; a leaf that bundles and evaluation share.

`load_run_folder` reads a run folder only. `workbench.core.evaluation.run_loading.load_run` also accepts `.wbmodel`
bundles; it lives apart so that this module and the bundle reader do not import each other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from workbench.core.config import ConfigError, ProjectConfig
from workbench.core.data.stats import NormStats
from workbench.core.devices import select_device
from workbench.core.models.factory import build_model
from workbench.core.run_folder import RunFolder
from workbench.core.runs import read_json
from workbench.core.training.checkpoints import CheckpointError, load_checkpoint

log = logging.getLogger(__name__)


@dataclass
class LoadedRun:
    """A trained model with everything inference needs; from a run folder or a `.wbmodel` bundle."""

    run_dir: Path  # the run folder, or the bundle file
    config: ProjectConfig
    class_names: list[str]
    stats: NormStats
    model: nn.Module
    device: torch.device
    checkpoint_epoch: int
    channels: str = "rgb"  # "grayscale" or "rgb": what the network was trained on
    kind: str = "run"  # "run" or "bundle"
    metrics: dict[str, Any] = field(default_factory=dict)  # stored metrics (bundles carry them)
    checkpoint_path: Path | None = None

    @property
    def in_channels(self) -> int:
        return 1 if self.channels == "grayscale" else 3


def build_inference_model(config: ProjectConfig, channels: str, num_classes: int) -> nn.Module:
    """The run's architecture with random weights (never downloads: the weights come from the run)."""
    offline = config.model_copy(update={"model": config.model.model_copy(update={"pretrained": False})})
    in_channels = 1 if channels == "grayscale" else 3
    try:  # strategies such as feature extraction train their own structure (backbone + fitted head)
        from workbench.core.strategies.inference import build_run_model
    except ImportError:
        return build_model(offline, in_channels, num_classes)
    return build_run_model(offline, in_channels, num_classes)


def load_run_folder(run_dir: str | Path, which: str = "best", device: str = "auto") -> LoadedRun:
    """A run folder's config, statistics and trained model (weights from `which`: 'best' or 'last')."""
    run_dir = Path(run_dir).expanduser().resolve()
    folder = RunFolder(run_dir)
    config = folder.load_config()
    class_names = read_json(folder.classes)
    stats_data = read_json(folder.norm_stats)
    if not class_names or not stats_data:
        raise ConfigError(f"run {run_dir.name} has no class list or statistics; it did not get past data preparation")
    if not isinstance(class_names, list):
        raise ConfigError(f"{folder.classes} is damaged: it should be a list of class names")
    path = folder.checkpoint(which)
    if not path.exists():
        path = folder.last_checkpoint
    if not path.exists():
        raise ConfigError(f"run {run_dir.name} has no checkpoint yet (checkpoints/{which}.pt); train at least one "
                          "epoch first")
    try:
        saved = load_checkpoint(path)
    except CheckpointError as error:  # a damaged best.pt (or last.pt): the other one still holds a model
        other = folder.last_checkpoint if path == folder.best_checkpoint else folder.best_checkpoint
        if not other.exists():
            raise
        log.warning("%s; using %s instead", error, other.name)
        saved, path = load_checkpoint(other), other
    try:
        stats = NormStats.from_dict(stats_data)
    except ValueError as error:
        raise ConfigError(f"{folder.norm_stats} is damaged: {error}") from None
    channels = (read_json(folder.data_report, {}) or {}).get("channels", "rgb")
    model = build_inference_model(config, channels, len(class_names))
    if not isinstance(saved, dict) or "model" not in saved:
        raise CheckpointError(f"checkpoint {path} holds no model weights; it is not a Workbench checkpoint")
    try:
        model.load_state_dict(saved["model"])
    except RuntimeError as error:
        raise CheckpointError(f"checkpoint {path} does not fit the run's model ({str(error).splitlines()[0][:200]}); "
                              "was config.toml edited after training?") from None
    chosen = torch.device(select_device(device if device != "auto" else config.training.device))
    status = folder.read_status()
    return LoadedRun(run_dir, config, class_names, stats, model.to(chosen).eval(), chosen, int(saved.get("epoch", 0)),
                     channels, "run", {"best_val_metrics": status.get("best_metrics", {})}, path)
