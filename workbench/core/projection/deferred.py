"""The final feature layout of a headless run, drawn when something shows it (a report) instead of at the end of
the run.

Without a window, nobody watches a t-SNE or UMAP layout form, and fitting one costs seconds of CPU at the end of
every `workbench train`. The run still judges its features at once (the separability scores and the Fig. 3
verdict need no layout): it saves the features it judged (`projection_features.npz`), and `final_layout`
fits the layout from them the first time a report asks, then keeps it in `projection.json`, in the format a run
with a window writes itself (`layout_record`). The fit is the projection helper's job: in a helper process beside
a window (t-SNE holds the GIL for long stretches), in a thread of a command-line process.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
FEATURES_FILE = "projection_features.npz"
LAYOUT_FILE = "projection.json"


def save_final_features(run_dir: str | Path, *, epoch: int, method: str, seed: int, features: np.ndarray,
                        labels: np.ndarray, rows: tuple[int, ...], scores: dict[str, float]) -> Path:
    """Keep the final epoch's projected features (float16: a layout needs no more) for `final_layout`."""
    from workbench.core.io import atomic_write_bytes

    path = Path(run_dir) / FEATURES_FILE
    buffer = io.BytesIO()
    np.savez_compressed(buffer, features=np.asarray(features, dtype=np.float16), labels=np.asarray(labels),
                        rows=np.asarray(rows, dtype=np.int64), epoch=epoch, method=method, seed=seed,
                        scores=json.dumps(scores))
    atomic_write_bytes(path, buffer.getvalue())
    return path


def layout_record(epoch: int, method: str, points, labels, class_names, scores: dict[str, float],
                  indices) -> dict[str, Any]:
    """projection.json's content: a final layout of validation images, with the scores of their features."""
    return {"epoch": int(epoch), "method": method, "points": [list(p) for p in points],
            "labels": [int(v) for v in labels], "class_names": list(class_names), "split": "val",
            "scores": scores, "indices": [int(v) for v in indices]}


def _fit(features: np.ndarray, labels: np.ndarray, method: str, seed: int) -> tuple[tuple[float, float], ...]:
    """The layout's points, fitted by the projection helper (its stored scores stand; the job's are not used)."""
    from workbench.core.diagnostics.helper_process import HelperJob

    job = HelperJob("workbench.core.projection.job:project_job",
                    {"features": features, "labels": labels, "seed": seed, "method": method},
                    lambda _message: None, name="projection", after_training=True).start()
    job.join()
    if job.error or job.result is None:
        raise RuntimeError(job.error or "the projection helper returned no layout")
    return job.result["points"]


def _read_layout(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def final_layout(run_dir: str | Path, class_names: list[str] | None = None) -> dict[str, Any] | None:
    """The run's final projection (projection.json), fitted now from the saved features where the run deferred it;
    None when the run has neither. A layout that cannot be fitted leaves what was there."""
    run_dir = Path(run_dir)
    layout_path, features_path = run_dir / LAYOUT_FILE, run_dir / FEATURES_FILE
    layout = _read_layout(layout_path) if layout_path.is_file() else None
    if not features_path.is_file():
        return layout
    try:
        with np.load(features_path, allow_pickle=False) as saved:
            epoch, method, seed = int(saved["epoch"]), str(saved["method"]), int(saved["seed"])
            if layout is not None and int(layout.get("epoch", 0)) >= epoch and layout.get("method") == method:
                return layout
            features, labels, rows = saved["features"].astype(np.float32), saved["labels"], saved["rows"]
            scores = json.loads(str(saved["scores"]))
    except (OSError, ValueError, KeyError):
        log.warning("the saved features of %s could not be read", run_dir, exc_info=True)
        return layout
    from workbench.core.io import atomic_write_bytes

    if class_names is None:
        from workbench.core.run_folder import RunFolder

        class_names = RunFolder(run_dir).read_classes()
    layout = layout_record(epoch, method, _fit(features, labels, method, seed), labels, class_names, scores, rows)
    atomic_write_bytes(layout_path, json.dumps(layout, indent=1).encode("utf-8"))
    return layout
