"""Gathering everything the report shows from a run folder, without touching the test set.

The report reads what evaluation stored; it never evaluates the test split itself. When the test set has
not been evaluated yet, the report can evaluate the validation split (which is not locked) instead, and
says so plainly.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from pathlib import Path
from typing import Any

from workbench.core.dataset_findings import load_dataset_record
from workbench.core.evaluation import storage
from workbench.core.evaluation.baselines import baselines
from workbench.core.evaluation.test_lock import summarize_test_uses
from workbench.core.export.report.environment import hardware_info, software_versions
from workbench.core.export.report.tried import tried_runs
from workbench.core.run_folder import RunFolder
from workbench.core.runs import read_json

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

log = logging.getLogger(__name__)


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def image_size_summary(paths: list[str], limit: int = 400, seed: int = 0) -> dict[str, Any]:
    """Original sizes of (a sample of) the images, read from their headers only."""
    from PIL import Image

    chosen = paths if len(paths) <= limit else random.Random(seed).sample(paths, limit)
    sizes, modes = [], {}
    for path in chosen:
        try:
            with Image.open(path) as image:
                sizes.append(image.size)
                modes[image.mode] = modes.get(image.mode, 0) + 1
        except (OSError, ValueError):
            continue
    if not sizes:
        return {}
    widths, heights = [w for w, _ in sizes], [h for _, h in sizes]
    common: dict[str, int] = {}
    for w, h in sizes:
        common[f"{w}×{h}"] = common.get(f"{w}×{h}", 0) + 1
    return {
        "checked": len(sizes), "of": len(paths),
        "width": [min(widths), sorted(widths)[len(widths) // 2], max(widths)],
        "height": [min(heights), sorted(heights)[len(heights) // 2], max(heights)],
        "most_common": sorted(common.items(), key=lambda kv: -kv[1])[:5],
        "modes": modes,
    }


def _parameter_count(run_dir: Path) -> int | None:
    from workbench.core.training.checkpoints import CheckpointError, load_checkpoint

    for path in (RunFolder(run_dir).best_checkpoint, RunFolder(run_dir).last_checkpoint):
        if path.exists():
            try:
                state = load_checkpoint(path)["model"]
            except (CheckpointError, KeyError):
                return None
            return int(sum(v.numel() for k, v in state.items() if not k.endswith("num_batches_tracked")
                           and not k.endswith(("running_mean", "running_var"))))
    return None


def _evaluate_validation(run_dir: Path) -> str:
    """Evaluate the validation split for a report whose test set is still unused; returns a note."""
    try:
        from workbench.core.evaluation.evaluate import evaluate_run

        evaluate_run(run_dir, "val")
        return ""
    except Exception as error:  # the dataset may have moved; the report still shows the rest
        return f"the validation split could not be evaluated ({error})"


def _baselines(metrics: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """Majority-class and chance baselines of the evaluated split (its per-class support), the majority class
    being the commonest of the training split."""
    import numpy as np

    per_class = metrics.get("per_class") or {}
    names = list(per_class)
    if not names:
        return {}
    scored = np.repeat(np.arange(len(names)), [int(per_class[n].get("support", 0) or 0) for n in names])
    train_counts = (report.get("class_counts") or {}).get("train") or []
    train = np.repeat(np.arange(len(train_counts)), [int(c) for c in train_counts]) if \
        len(train_counts) == len(names) else scored
    return {**baselines(train, scored, names), "classes": len(names)}


def collect_report_data(run_dir: str | Path, evaluate_validation: bool = True) -> dict[str, Any]:
    """Everything the report needs, as plain values (no tensors, no model)."""
    run_dir = Path(run_dir).expanduser().resolve()
    folder = RunFolder(run_dir)
    if not folder.config.exists():
        from workbench.core.config import ConfigError

        raise ConfigError(f"{run_dir} is not a Workbench run folder (it has no config.toml)")
    config_text = folder.config.read_text(encoding="utf-8")
    status = folder.read_status()
    report = read_json(folder.data_report, {}) or {}
    notes: list[str] = []
    split = "test" if storage.load_metrics(run_dir, "test") else "val"
    if split == "val" and storage.load_metrics(run_dir, "val") is None and evaluate_validation:
        note = _evaluate_validation(run_dir)
        if note:
            notes.append(note)
    metrics = storage.load_metrics(run_dir, split)
    split_sha = _sha256(folder.split)
    paths = []
    if folder.split.exists():
        from workbench.core.data.splits import read_manifest

        paths = [s.path for s in read_manifest(folder.split)[0]]
    gallery = storage.load_json(storage.gallery_dir(run_dir, split) / "gallery.json") or []
    from workbench.core.evaluation.compare import run_history

    config = tomllib.loads(config_text)
    history = run_history(run_dir)
    source = str(config.get("data", {}).get("source", ""))
    test_uses = summarize_test_uses(run_dir)
    ledger_runs = [str(e.get("run_dir", "")) for e in test_uses.get("project_history", [])]
    return {
        "run_id": run_dir.name,
        "run_dir": str(run_dir),
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "config": config,
        "config_toml": config_text,
        "status": status,
        "history": history,
        "epochs_run": status.get("epochs_run", len(history)),
        "monitor": config.get("training", {}).get("monitor", "val_loss"),
        "data_report": report,
        "class_names": read_json(folder.classes, []) or report.get("classes", []),
        "norm_stats": read_json(folder.norm_stats, {}) or {},
        "split_sha256": split_sha,
        "split_sha_matches": (not report.get("manifest_sha256")) or report.get("manifest_sha256") == split_sha,
        "image_sizes": image_size_summary(paths),
        "findings_raw": read_json(folder.findings, None),
        "projection": _projection(run_dir),
        "eval_split": split,
        "test_metrics": metrics if split == "test" else None,
        "eval_metrics": metrics,
        "test_uses": test_uses,
        "dataset_record": load_dataset_record(run_dir.parent, source) if source else {},
        "tried": tried_runs(run_dir, source, ledger_runs) if source else [],
        "baselines": _baselines(metrics, report) if metrics else {},
        "tta": storage.load_json(storage.tta_path(run_dir, split)),
        "robustness": storage.load_json(storage.robustness_path(run_dir, split)),
        "gallery": gallery,
        "gallery_dir": str(storage.gallery_dir(run_dir, split)),
        "external": storage.list_external(run_dir),
        "export": read_json(run_dir / "exports" / "export.json", None),
        "versions": software_versions(),
        "hardware": hardware_info(),
        "parameter_count": _parameter_count(run_dir),
        "notes": notes,
    }


def _projection(run_dir: Path) -> dict[str, Any] | None:
    """projection.json; a headless run's final layout is fitted here, the first time a report shows it."""
    from workbench.core.projection.deferred import final_layout

    try:
        return final_layout(run_dir)
    except Exception:  # a layout that cannot be fitted leaves the report without it, never without a report
        log.warning("the final feature layout of %s could not be drawn", run_dir, exc_info=True)
        return read_json(run_dir / "projection.json", None)
