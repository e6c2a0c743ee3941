"""External validation (paper, item 7): a trained run evaluated on a separately supplied dataset.

The folder holds one sub-folder per class (or a CSV manifest), with the run's class names. It is decoded
with the run's own preprocessing, channels and training statistics, and reported apart from the internal
test set. It is not the test set, so using it is not counted as a test-set use.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.data.cache import decode_dataset
from workbench.core.data.discovery import scan_dataset
from workbench.core.data.errors import DatasetError
from workbench.core.evaluation import storage
from workbench.core.evaluation.inference import EvalSet, predict_set
from workbench.core.evaluation.loaded_run import LoadedRun
from workbench.core.evaluation.metrics import full_metrics, headline
from workbench.core.evaluation.run_loading import load_run
from workbench.core.run_folder import RunFolder
from workbench.core.runs import write_json

Progress = Callable[[int, int], None]


def check_class_names(found: Sequence[str], known: Sequence[str], folder: Path) -> list[str]:
    """Raise DatasetError when the folder has classes the model does not know; return the model's missing classes."""
    unknown = [c for c in found if c not in known]
    if unknown:
        by_folded = {k.strip().casefold(): k for k in known}
        hints = [f"'{c}' → '{by_folded[c.strip().casefold()]}'" for c in unknown if c.strip().casefold() in by_folded]
        hint = f" Rename: {', '.join(hints)}." if hints else ""
        raise DatasetError(
            f"the class names of {folder} do not match the model's: {', '.join(repr(c) for c in unknown)} "
            f"{'is' if len(unknown) == 1 else 'are'} not among the model's classes ({', '.join(known)}).{hint} "
            "Give the external dataset one sub-folder per class, named exactly as in training"
        )
    return [c for c in known if c not in found]


def load_external(run: LoadedRun, folder: str | Path, progress: Progress | None = None) -> tuple[EvalSet, dict[str, Any]]:
    """Scan and decode an external dataset for `run`; returns the images and a description of them."""
    root = Path(folder).expanduser().resolve()
    scan = scan_dataset(root, "auto", progress=None)
    missing = check_class_names(scan.classes, run.class_names, root)
    cfg = run.config.preprocessing.model_copy(update={"channels": run.channels, "cache": "memory"})
    images = decode_dataset(scan.samples, cfg, progress=progress, reuse=False)
    kept = [scan.samples[i] for i in images.kept]
    if not kept:
        raise DatasetError(f"none of the images in {root} could be decoded")
    index = {c: i for i, c in enumerate(run.class_names)}
    labels = np.array([index[s.label] for s in kept], dtype=np.int64)
    warnings = list(scan.warnings)
    if missing:
        warnings.append(f"the external set has no images of {', '.join(missing)}; metrics cover the other classes only")
    if scan.layout == "presplit":
        warnings.append("the folder is split into train/val/test; all of its images were used as external data")
    overlap = _overlap_with_run(run, [s.path for s in kept])
    if overlap:
        warnings.append(f"{overlap} external image(s) are also files of the run's own dataset: this is not an "
                        "independent external set")
    counts = Counter(s.label for s in kept)
    info = {
        "source": str(root), "layout": scan.layout, "images": len(kept),
        "class_counts": {c: counts.get(c, 0) for c in run.class_names},
        "skipped": [{"path": s.path, "reason": s.reason} for s in (*scan.skipped, *images.failed)],
        "missing_classes": missing, "warnings": warnings, "overlap_with_run": overlap,
    }
    return EvalSet(images.array, np.arange(len(kept)), labels, [s.path for s in kept], images.value_scale,
                   "external"), info


def _overlap_with_run(run: LoadedRun, paths: list[str]) -> int:
    manifest = RunFolder(run.run_dir).split
    if run.kind != "run" or not manifest.exists():
        return 0
    from workbench.core.data.splits import read_manifest

    own = {os.path.realpath(s.path) for s in read_manifest(manifest)[0]}
    return sum(1 for p in paths if os.path.realpath(p) in own)


def evaluate_external(
    run_or_path: LoadedRun | str | Path,
    folder: str | Path,
    *,
    name: str | None = None,
    tta: Sequence[str] = (),
    tta_rule: str = "mean",
    bootstrap_samples: int | None = None,
    progress: Progress | None = None,
    save: bool = True,
) -> dict[str, Any]:
    """Full metrics on an external dataset, beside the internal test result; saved under evaluation/external/."""
    run = run_or_path if isinstance(run_or_path, LoadedRun) else load_run(run_or_path)
    images, info = load_external(run, folder, progress)
    out = predict_set(run, images, tta=tta, rule=tta_rule)
    samples = run.config.evaluation.bootstrap_samples if bootstrap_samples is None else bootstrap_samples
    metrics = full_metrics(images.labels, out["probs"], run.class_names, bootstrap_samples=samples,
                           seed=run.config.training.seed)
    internal = _internal_test(run)
    result: dict[str, Any] = {
        **metrics, **info,
        "name": name or Path(info["source"]).name,
        "split": "external",
        "class_names": run.class_names,
        "evaluated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "tta": list(tta), "tta_rule": tta_rule if tta else "",
        "internal_test": internal,
        "difference_to_internal": {k: metrics[k] - internal[k] for k in ("accuracy", "balanced_accuracy", "macro_f1")
                                   if k in internal},
    }
    if save and run.kind == "run":
        write_json(storage.external_dir(run.run_dir) / f"{storage.slug(result['name'])}.json", result)
    return result


def _internal_test(run: LoadedRun) -> dict[str, float]:
    """The stored internal test score, read (not recomputed, so the test set is not used again)."""
    if run.kind == "bundle":
        return dict(run.metrics.get("test", {}) or {})
    stored = storage.load_metrics(run.run_dir, "test")
    return headline(stored) if stored else {}
