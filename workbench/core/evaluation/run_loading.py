"""Loading a trained model from either a run folder or a `.wbmodel` bundle, by what the path is."""

from __future__ import annotations

from pathlib import Path

from workbench.core.evaluation.loaded_run import LoadedRun, load_run_folder
from workbench.core.export.bundle import load_bundle


def load_run(run_dir: str | Path, which: str = "best", device: str = "auto") -> LoadedRun:
    """The trained model of a run folder (weights from `which`: 'best' or 'last') or of a bundle file."""
    path = Path(run_dir).expanduser().resolve()
    if path.is_file() and path.suffix == ".wbmodel":
        return load_bundle(path, device=device)
    return load_run_folder(path, which=which, device=device)
