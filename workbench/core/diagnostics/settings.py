"""Settings of the diagnostics and projections, read from the project's `diagnostics` section.

The section is optional: a config without it gets the defaults below, so the checks work before the
config schema carries them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class DiagnosticsSettings:
    enabled: bool = True  # master switch for every monitor below
    data_checks: bool = True  # run the data checks in the background when a run starts
    training_checks: bool = True  # initial loss, divergence, fit, dead units, gradients, output pairing
    label_check: bool = True  # label errors (cleanlab): in the data checks, and on validation predictions after a run
    shortcut_check: bool = True  # attribution-based shortcut probe when a run ends
    projection_every: int = 5  # project validation features every N epochs (0 = only at the end)
    projection_method: str = "tsne"  # "tsne", "umap" or "pca"
    projection_max_points: int = 2000  # validation images projected (a fixed random subset)
    projection_wait_s: float = 120.0  # how long the end of a run waits for the final projection


def settings_from_config(config: Any) -> DiagnosticsSettings:
    """The `diagnostics` section of `config` (a pydantic model or a dict), or the defaults where it is absent."""
    section = getattr(config, "diagnostics", None)
    if section is None:
        return DiagnosticsSettings()
    values = section.model_dump() if hasattr(section, "model_dump") else dict(section)
    known = {f.name for f in fields(DiagnosticsSettings)}
    return DiagnosticsSettings(**{k: v for k, v in values.items() if k in known})
