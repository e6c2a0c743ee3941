"""Outside code adds registry entries (architectures, strategies, diagnostics, …) through entry points.

A package declares, in its pyproject.toml:

    [project.entry-points."workbench.plugins"]
    my_plugin = "my_package.workbench_plugin:register"

and `register()` adds its entries with the registries' own functions, all importable from here without torch:

- `register_architecture(ArchitectureInfo(..., builder="pkg.mod:build"))`: build(config, info, in_channels, classes);
- `register_optimizer(OptimizerInfo(..., opt_class="pkg.mod:MyOptimizer", has_momentum=...))`;
- `register_scheduler(SchedulerInfo(..., factor=lambda clock, cfg: ...))`;
- `register_strategy(StrategyInfo(..., impl="pkg.mod:MyStrategy", freezes_layers=...))`;
- `register_augmentation(AugmentationInfo(..., builder="pkg.mod:make"))`: set in `preprocessing.augmentation.extra`;
- `register_tta(TtaInfo(..., views="pkg.mod:views", view_names=(...)))`;
- `register_diagnostic(DiagnosticInfo(..., function="pkg.mod:check", kind="data" | "training" | "tool"))`;
- `register_projection(ProjectionInfo(..., function="pkg.mod:project"))`: (features, **kwargs) -> N×2.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from workbench.core.catalog.augmentations import AugmentationInfo, register_augmentation
from workbench.core.catalog.diagnostics import DiagnosticInfo, register_diagnostic
from workbench.core.catalog.optimizers import OptimizerInfo, register_optimizer
from workbench.core.catalog.projections import ProjectionInfo, register_projection
from workbench.core.catalog.schedules import SchedulerInfo, register_scheduler
from workbench.core.catalog.strategies import StrategyInfo, register_strategy
from workbench.core.catalog.tta import TtaInfo, register_tta
from workbench.core.models.registry import ArchitectureInfo, register_architecture

__all__ = [
    "GROUP", "ArchitectureInfo", "AugmentationInfo", "DiagnosticInfo", "OptimizerInfo", "ProjectionInfo", "SchedulerInfo",
    "StrategyInfo", "TtaInfo", "load_plugins", "register_architecture", "register_augmentation",
    "register_diagnostic", "register_optimizer", "register_projection", "register_scheduler", "register_strategy",
    "register_tta",
]

log = logging.getLogger(__name__)
GROUP = "workbench.plugins"
_loaded: dict[str, str] = {}


def load_plugins() -> dict[str, str]:
    """Call every plugin's register function once; returns plugin name → "ok" or the error it raised."""
    for entry in entry_points(group=GROUP):
        if entry.name in _loaded:
            continue
        try:
            entry.load()()
            _loaded[entry.name] = "ok"
        except Exception as error:  # a broken plugin must not stop the application
            _loaded[entry.name] = f"{type(error).__name__}: {error}"
            log.warning("plugin %s failed to load: %s", entry.name, error)
    return dict(_loaded)
