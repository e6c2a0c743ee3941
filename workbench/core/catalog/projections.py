"""Registry of 2-D projections of feature vectors (t-SNE, UMAP, PCA): names, labels and their functions.

The functions live in `workbench.core.projection.methods` and are named as "module:function", so the config
validates `diagnostics.projection_method` without importing numpy's projection code or the training package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.core.catalog import check_reference, resolve
from workbench.core.models.registry import ParamInfo

_M = "workbench.core.projection.methods"


@dataclass(frozen=True)
class ProjectionInfo:
    name: str
    label: str
    description: str
    function: str | Callable[..., Any]  # "module:function" or the function: (features, **kwargs) -> N×2
    streams: bool = False  # sends partial layouts while it runs
    instant: bool = False  # fits in milliseconds: a headless run draws its final layout at once, not on demand
    params: tuple[ParamInfo, ...] = ()

    def load(self) -> Callable[..., Any]:
        return resolve(self.function) if isinstance(self.function, str) else self.function


PROJECTIONS: dict[str, ProjectionInfo] = {
    p.name: p
    for p in (
        ProjectionInfo("tsne", "t-SNE", "Keeps neighbourhoods; clusters are meaningful, distances between them are not. "
                       "Streams its layout while it runs.", f"{_M}:project_tsne", streams=True,
                       params=(ParamInfo("perplexity", "Perplexity", "Effective number of neighbours (set from N)."),)),
        ProjectionInfo("umap", "UMAP", "Keeps neighbourhoods and more of the global layout; fast on many points.",
                       f"{_M}:project_umap",
                       params=(ParamInfo("n_neighbors", "Neighbours", "Size of the local neighbourhood."),)),
        ProjectionInfo("pca", "PCA", "The two directions of largest variance; instant, linear, shows coarse structure.",
                       f"{_M}:project_pca", instant=True),
    )
}


def register_projection(info: ProjectionInfo) -> None:
    """Add or replace a projection method (plugins use this through the `workbench.plugins` entry points)."""
    if isinstance(info.function, str):
        check_reference("projection", info.name, info.function)
    PROJECTIONS[info.name] = info
