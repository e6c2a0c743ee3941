"""Where a strategy's pretrained weights come from (timm's cache, a file, an earlier run) and loading them.

Loading writes `weights_report.json` in the run folder and reports the match as a log line and a finding.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from workbench.core.config import ConfigError, ModelConfig, ProjectConfig, load_config, save_config
from workbench.core.events import FindingRaised, LogMessage
from workbench.core.models.pretrained import MatchReport, WeightsError, load_matched, read_state_dict, timm_pretrained_state
from workbench.core.models.registry import ARCHITECTURES
from workbench.core.run_folder import RunFolder
from workbench.core.strategies.common import is_resuming, write_report

if TYPE_CHECKING:
    from workbench.core.strategies.base import StrategyContext

REPORT_NAME = "weights_report.json"


def source_run_dir(path: str) -> Path:
    """The earlier run folder named by `path`, checked to hold a config and a checkpoint."""
    if not path:
        raise ConfigError("strategy.weights_path is empty: choose the earlier run's folder")
    run = Path(path).expanduser().resolve()
    if not RunFolder(run).is_run():
        raise ConfigError(f"{run} is not a Workbench run folder (it has no config.toml)")
    if not RunFolder(run).has_weights():
        raise ConfigError(f"run {run.name} has no checkpoint yet (checkpoints/best.pt); let it train at least one epoch")
    return run


def source_model_config(path: str) -> ModelConfig:
    """The architecture of an earlier run, so the new run rebuilds exactly the network its weights fit."""
    model = load_config(RunFolder(source_run_dir(path)).config).model
    return model.model_copy(update={"pretrained": False})


def architecture_config(context: StrategyContext) -> ProjectConfig:
    """The run's config, with the source run's architecture when the weights come from an earlier run.

    The chosen architecture is written back to the run's config.toml, so evaluation, export and resume
    rebuild the network that was actually trained. On resume, config.toml already holds it.
    """
    config = context.config
    if config.strategy.weights != "run" or is_resuming(context):
        return config
    model = source_model_config(config.strategy.weights_path)
    if model == config.model:
        return config
    resolved = config.model_copy(update={"model": model})
    if context.is_main:
        save_config(resolved, RunFolder(context.run_dir).config)
    context.emit(LogMessage("info", f"architecture taken from the source run: {model.architecture}"))
    return resolved


def _source_state(context: StrategyContext) -> tuple[dict[str, torch.Tensor], str]:
    config, scfg = context.config, context.config.strategy
    if scfg.weights == "timm":
        name = config.model.architecture
        if name in ARCHITECTURES and ARCHITECTURES[name].timm_name is None:
            raise WeightsError(f"{name} is Workbench's own network and has no timm weights: choose weights = 'run' "
                               "(an earlier run) or 'file', or pick a timm architecture such as resnet18")
        return timm_pretrained_state(name, context.data.in_channels, len(context.data.class_names),
                                     config.preprocessing.image_size)
    if scfg.weights == "file":
        if not scfg.weights_path:
            raise ConfigError("strategy.weights_path is empty: choose a .safetensors, .pth or .pt weights file")
        return read_state_dict(scfg.weights_path), str(Path(scfg.weights_path).expanduser())
    run = source_run_dir(scfg.weights_path)
    checkpoint = RunFolder(run).best_checkpoint
    if not checkpoint.is_file():
        checkpoint = RunFolder(run).last_checkpoint
    return read_state_dict(checkpoint), str(checkpoint)


def load_pretrained(model: nn.Module, context: StrategyContext) -> MatchReport:
    """Load the configured weights into `model`'s backbone, report the match, and refuse a poor one."""
    state, name = _source_state(context)
    report = load_matched(model, state, name, context.config.strategy.min_match)
    write_report(context, REPORT_NAME, report.to_dict())
    context.emit(LogMessage("info", report.summary()))
    partial = report.share < 0.999 or report.shape_mismatch
    if partial:
        context.emit(FindingRaised(
            "weights-partial-match", "warning", "Some pretrained weights did not load",
            f"{report.summary()}. Tensors that did not load start from random values, so that part of the network "
            "is not pretrained.",
            "Use the architecture the weights were trained with; the full list is in weights_report.json.",
            {"share": report.share, "missing": report.missing[:20], "shape_mismatch": report.shape_mismatch[:20]},
            pane="strategy"))
    else:
        context.emit(FindingRaised("weights-loaded", "info", "Pretrained weights loaded", report.summary(),
                                   evidence={"share": report.share}, pane="strategy"))
    return report
