"""Small pieces every strategy shares: the plain architecture, run-folder files, stop checks, batched inference."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from workbench.core.events import StageProgress
from workbench.core.run_folder import RunFolder
from workbench.core.training.loop import BatchSource, StopRequested

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig
    from workbench.core.strategies.base import StrategyContext
    from workbench.core.training.control import RunControl


def plain_config(config: ProjectConfig) -> ProjectConfig:
    """The config with strategy 'scratch' and no timm download, so the factory builds the bare architecture."""
    return config.model_copy(update={
        "strategy": config.strategy.model_copy(update={"name": "scratch"}),
        "model": config.model.model_copy(update={"pretrained": False}),
    })


def build_architecture(config: ProjectConfig, in_channels: int, num_classes: int) -> nn.Module:
    from workbench.core.models.factory import build_model

    return build_model(plain_config(config), in_channels, num_classes)


def is_resuming(context: StrategyContext) -> bool:
    """True when the engine will load this run's last checkpoint (the same test the engine makes)."""
    return RunFolder(context.run_dir).last_checkpoint.exists()


def write_report(context: StrategyContext, name: str, data: Any) -> Path:
    from workbench.core.runs import write_json

    path = context.run_dir / name
    if context.is_main:
        write_json(path, data)
    return path


def check_stop(control: RunControl) -> None:
    """Block while paused; raise StopRequested when the user asked to stop (the engine then checkpoints)."""
    if not control.wait_while_paused():
        raise StopRequested(0, {})


def source_for(context: StrategyContext, indices: np.ndarray, batch_size: int | None = None) -> BatchSource:
    tcfg = context.config.training
    return BatchSource(data=context.data, indices=np.asarray(indices, dtype=np.int64),
                       batch_size=batch_size or tcfg.batch_size, device=context.device, stats=context.data.stats)


@torch.no_grad()
def embed(
    fn: Callable[[torch.Tensor], torch.Tensor],
    source: BatchSource,
    control: RunControl | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`fn(x)` for every image of `source` (no augmentation), as float32 numpy rows, with the labels."""
    outputs, labels = [], []
    batches = source.batches(source.indices)
    done = 0
    for idx in batches:
        if control is not None:
            check_stop(control)
        x, y = source.load(idx, augment=False)
        outputs.append(fn(x).float().cpu().numpy())
        labels.append(y.cpu().numpy())
        done += len(idx)
        if progress is not None:
            progress(done, len(source.indices))
    if not outputs:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    return np.concatenate(outputs).astype(np.float32), np.concatenate(labels)


def stage_reporter(context: StrategyContext, stage: str) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        context.emit(StageProgress(stage, done, total))

    return report


def knn_predict(queries: torch.Tensor, bank: torch.Tensor, bank_labels: torch.Tensor, k: int, num_classes: int,
                exclude_self: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Majority vote of the k nearest bank rows (Euclidean), and the neighbour indices, for each query."""
    distances = torch.cdist(queries, bank)
    if exclude_self:
        distances.fill_diagonal_(float("inf"))
    k = max(1, min(k, bank.shape[0] - int(exclude_self)))
    nearest = distances.topk(k, largest=False).indices
    votes = nn.functional.one_hot(bank_labels[nearest], num_classes).sum(1)
    return votes.argmax(1), nearest
