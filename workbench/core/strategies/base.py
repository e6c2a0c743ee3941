"""The strategy interface: the engine's extension points for how a network is trained.

The default implementation is training from scratch. A strategy may build or initialise the model
(transfer learning), choose parameter groups (discriminative rates), change what is trainable as
epochs pass (gradual unfreezing), choose which training images each epoch uses (curriculum), run a
stage before supervised training (self-supervised or autoencoder pretraining, from the first
`on_epoch_start`), or replace the epoch loop entirely (feature extraction with a scikit-learn classifier).
A strategy whose model is not the registry's architecture says how to rebuild it (`inference_model`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig
    from workbench.core.data.pipeline import PreparedData
    from workbench.core.events import EngineEvent
    from workbench.core.training.control import RunControl
    from workbench.core.training.loop import EpochResult


@dataclass
class StrategyContext:
    config: ProjectConfig
    data: PreparedData
    device: torch.device
    run_dir: Path
    emit: Callable[[EngineEvent], None]
    control: RunControl
    is_main: bool = True


class Strategy:
    """Training from scratch; subclasses override the hooks they need."""

    def build_model(self, context: StrategyContext) -> nn.Module | None:
        """Return a model to use instead of the architecture registry's, or None for the default."""
        return None

    def inference_model(self, config: ProjectConfig, in_channels: int, num_classes: int) -> nn.Module | None:
        """An untrained model of the structure this strategy trains, to load a run's checkpoint into (for
        evaluation, export and prediction); None when it is the architecture registry's model."""
        return None

    def prepare_model(self, model: nn.Module, context: StrategyContext, resuming: bool) -> None:
        """Initialise or freeze the freshly built model. When `resuming`, the weights come from the run's
        checkpoint afterwards, so only the trainable/frozen layout needs to be set up again."""

    def param_groups(self, model: nn.Module, context: StrategyContext) -> Iterable[Any]:
        """Parameters (or parameter groups with their own 'lr') for the optimizer."""
        return [p for p in model.parameters() if p.requires_grad]

    def on_epoch_start(self, epoch: int, model: nn.Module, optimizer: torch.optim.Optimizer,
                       context: StrategyContext) -> None:
        """Called before each epoch, also after a resume (e.g. to unfreeze blocks on schedule)."""

    def select_indices(self, epoch: int, order: np.ndarray, context: StrategyContext) -> np.ndarray:
        """The training indices used this epoch, in order (curriculum learning subsets them)."""
        return order

    def replaces_training(self) -> bool:
        """True when `fit` trains the model itself instead of the engine's epoch loop."""
        return False

    def fit(self, model: nn.Module, context: StrategyContext) -> EpochResult:
        """Train without the epoch loop (e.g. a scikit-learn classifier on fixed features) so that afterwards
        `model(x)` gives logits; the engine then validates, checkpoints and reports it as one epoch."""
        raise NotImplementedError
