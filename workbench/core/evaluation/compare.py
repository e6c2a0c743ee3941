"""Comparing runs side by side: their curves, their metrics, and the settings in which they differ."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.core.config import ConfigError
from workbench.core.dotted import flatten
from workbench.core.evaluation import storage
from workbench.core.evaluation.metrics import headline
from workbench.core.evaluation.test_lock import summarize_test_uses
from workbench.core.run_folder import RunFolder

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

CURVE_KEYS = ("train_loss", "val_loss", "train_accuracy", "accuracy", "balanced_accuracy", "macro_f1", "lr")
IGNORED_SETTINGS = ("runs_dir",)  # where a run is stored is not a difference between runs


def run_history(run_dir: Path) -> list[dict[str, Any]]:
    """Per-epoch records from run.json, or from metrics.jsonl while a run is still going."""
    status = RunFolder(run_dir).read_status()
    if status.get("history"):
        return list(status["history"])
    path = RunFolder(run_dir).metrics
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and "epoch" in row:
            rows.append(row)
    return rows


def _settings(run_dir: Path) -> dict[str, Any]:
    from workbench.core.config import ConfigError, config_from_dict

    try:
        raw = tomllib.loads(RunFolder(run_dir).config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    with contextlib.suppress(ConfigError):  # defaults filled in: settings added since an older run are no difference
        raw = config_from_dict(raw, source=str(RunFolder(run_dir).config)).model_dump(mode="json")
    return {k: v for k, v in flatten(raw).items() if k not in IGNORED_SETTINGS}


def compare_runs(run_dirs: Sequence[str | Path]) -> dict[str, Any]:
    """Curves per run, metrics side by side, and flattened settings that differ (key → {run: value}).

    Test metrics are read from what was stored at the last evaluation; comparing runs never uses the test set.
    """
    folders = [Path(d).expanduser().resolve() for d in run_dirs]
    strangers = [str(f) for f in folders if not RunFolder(f).is_run()]
    if strangers:  # an empty column would read as a run with no results
        verb = "is not a Workbench run folder" if len(strangers) == 1 else "are not Workbench run folders"
        raise ConfigError(f"{', '.join(strangers)} {verb} (no config.toml); give the folders under runs/")
    ids = [f.name for f in folders]
    if len(set(ids)) != len(ids):  # runs from different folders may share a name
        ids = [str(f) for f in folders]
    runs, curves, settings = [], {}, {}
    metrics: dict[str, dict[str, float | None]] = {}
    for run_id, folder in zip(ids, folders, strict=True):
        status = RunFolder(folder).read_status()
        history = run_history(folder)
        curves[run_id] = {"epoch": [r.get("epoch") for r in history],
                          **{k: [r.get(k) for r in history] for k in CURVE_KEYS if any(k in r for r in history)}}
        test = storage.load_metrics(folder, "test")
        uses = summarize_test_uses(folder)
        runs.append({"id": run_id, "run_dir": str(folder), "status": status.get("status", "unknown"),
                     "best_epoch": status.get("best_epoch"), "epochs_run": status.get("epochs_run", len(history)),
                     "test_uses": uses["run_uses"]})
        values = {f"val_{k}": v for k, v in (status.get("best_metrics") or {}).items() if k != "val_loss"}
        if "val_loss" in (status.get("best_metrics") or {}):
            values["val_loss"] = status["best_metrics"]["val_loss"]
        values.update({f"test_{k}": v for k, v in (headline(test) if test else {}).items()})
        for name, value in values.items():
            metrics.setdefault(name, {})[run_id] = value
        settings[run_id] = _settings(folder)
    for name in metrics:
        for run_id in ids:
            metrics[name].setdefault(run_id, None)
    keys = sorted(set().union(*[s.keys() for s in settings.values()])) if settings else []
    differences = {}
    for key in keys:
        values = {run_id: settings[run_id].get(key) for run_id in ids}
        if len({json.dumps(v, sort_keys=True, default=str) for v in values.values()}) > 1:
            differences[key] = values
    return {"runs": runs, "curves": curves, "metrics": dict(sorted(metrics.items())), "config_differences": differences}
