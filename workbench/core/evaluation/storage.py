"""Where evaluation results live in a run folder, and reading and writing them.

Everything sits under `run_dir/evaluation/` (plus `test_metrics.json` at the top, which the GUI reads):
- `<split>_metrics.json`, `<split>_predictions.npz` (probabilities, labels, manifest rows; no pickles);
- `<split>_tta.json`, `<split>_robustness.json` with `<split>_robustness.png`;
- `<split>_gallery/` with `gallery.json` and one PNG per misclassified image;
- `external/<name>.json` for external validation sets.
Reading these files never counts as a use of the test set.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.runs import read_json, write_json

EVAL_DIR = "evaluation"


def eval_dir(run_dir: Path) -> Path:
    return Path(run_dir) / EVAL_DIR


def metrics_path(run_dir: Path, split: str) -> Path:
    return eval_dir(run_dir) / f"{split}_metrics.json"


def predictions_path(run_dir: Path, split: str) -> Path:
    return eval_dir(run_dir) / f"{split}_predictions.npz"


def tta_path(run_dir: Path, split: str) -> Path:
    return eval_dir(run_dir) / f"{split}_tta.json"


def robustness_path(run_dir: Path, split: str) -> Path:
    return eval_dir(run_dir) / f"{split}_robustness.json"


def gallery_dir(run_dir: Path, split: str) -> Path:
    return eval_dir(run_dir) / f"{split}_gallery"


def external_dir(run_dir: Path) -> Path:
    return eval_dir(run_dir) / "external"


def slug(text: str) -> str:
    """A file-name-safe version of `text` (for external dataset names)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "external"


def save_metrics(run_dir: Path, split: str, result: dict[str, Any]) -> Path:
    path = metrics_path(run_dir, split)
    write_json(path, result)
    if split == "test":  # the GUI and older tools read this name
        write_json(Path(run_dir) / "test_metrics.json", result)
    return path


def load_metrics(run_dir: Path, split: str) -> dict[str, Any] | None:
    found = read_json(metrics_path(run_dir, split), None)
    if found is None and split == "test":
        found = read_json(Path(run_dir) / "test_metrics.json", None)
    return found


def save_predictions(run_dir: Path, split: str, probs: np.ndarray, labels: np.ndarray, rows: np.ndarray) -> Path:
    path = predictions_path(run_dir, split)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, probs=probs.astype(np.float32), labels=labels.astype(np.int64),
                        rows=rows.astype(np.int64))
    return path


def load_predictions(run_dir: Path, split: str) -> dict[str, np.ndarray] | None:
    path = predictions_path(run_dir, split)
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as data:  # never unpickle
        return {k: data[k] for k in data.files}


def load_json(path: Path) -> Any:
    return read_json(path, None)


def list_external(run_dir: Path) -> list[dict[str, Any]]:
    folder = external_dir(run_dir)
    if not folder.is_dir():
        return []
    results = [read_json(p, None) for p in sorted(folder.glob("*.json"))]
    return [r for r in results if isinstance(r, dict)]
