"""Live projections of learned features (checklist item 5): t-SNE, UMAP or PCA of the penultimate layer.

Importing this package registers the projection monitor with the engine. It stays light (no torch, no
scikit-learn) until a name is used, because UMAP's helper process imports it too. `warm_up_umap()` may
be called early (e.g. at GUI start-up) to hide UMAP's one-off import and compilation time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from workbench.core.training.monitors import register_monitor_factory

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig
    from workbench.core.training.monitors import Monitor

_NAMES = {
    "PROJECTIONS": "methods", "ProjectionInfo": "methods", "project": "methods", "register_projection": "methods",
    "ProjectionMonitor": "monitor", "projection_monitors": "monitor",
    "no_structure_finding": "scores", "structure_verdict": "scores", "separability_scores": "scores",
    "shutdown_umap": "umap_warmup", "umap_ready": "umap_warmup", "wait_for_umap": "umap_warmup",
    "warm_up_umap": "umap_warmup",
    "ProjectionJob": "worker", "ProjectionWorker": "worker",
}
__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)


def _monitors(config: ProjectConfig) -> list[Monitor]:
    from workbench.core.projection.monitor import projection_monitors

    return projection_monitors(config)


register_monitor_factory(_monitors)
