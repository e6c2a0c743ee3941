"""Rebuilding the network a run trained, whatever its strategy, so its checkpoint can be loaded."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

    from workbench.core.config import ProjectConfig


def build_run_model(config: ProjectConfig, in_channels: int, num_classes: int) -> nn.Module:
    """The strategy's own structure (e.g. backbone + fitted classifier) or the registry's architecture."""
    from workbench.core.strategies import STRATEGIES, load_strategy
    from workbench.core.strategies.common import build_architecture

    if config.strategy.name in STRATEGIES:
        special = load_strategy(config.strategy.name).inference_model(config, in_channels, num_classes)
        if special is not None:
            return special
    return build_architecture(config, in_channels, num_classes)
