"""Every run on the same dataset: what was tried before (and after) the reported model.

PROBAST asks whether the reported model was selected among many; the report answers by listing each run
on this dataset (in the runs folder, and anywhere else the test-set ledger saw the same test images):
its strategy, model and key settings, and its best validation score.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.core.dotted import flatten
from workbench.core.run_folder import RunFolder

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

KEY_SETTINGS = ("model.architecture", "strategy.name", "training.optimizer", "training.lr", "training.batch_size",
                "training.epochs", "preprocessing.image_size", "training.class_weighting", "training.monitor")
_NOT_SETTINGS = ("name", "runs_dir", "data.source", "diagnostics.applied_fixes")
MAX_DIFFERENCES = 6


def _same_place(a: str, b: str) -> bool:
    try:
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
    except (OSError, RuntimeError):
        return a == b


def _settings(run_dir: Path) -> dict[str, Any] | None:
    try:
        return flatten(tomllib.loads(RunFolder(run_dir).config.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def _candidates(run_dir: Path, ledger_runs: list[str]) -> list[Path]:
    folders = [p for p in run_dir.parent.iterdir() if p.is_dir() and RunFolder(p).is_run()] \
        if run_dir.parent.is_dir() else []
    folders += [Path(d) for d in ledger_runs if d and RunFolder(d).is_run()]
    unique: dict[str, Path] = {}
    for folder in folders:
        unique.setdefault(str(folder.resolve()), folder)
    return list(unique.values())


def tried_runs(run_dir: str | Path, source: str, ledger_runs: list[str] | None = None) -> list[dict[str, Any]]:
    """Each run on dataset `source`, oldest first: id, status, key settings, differences and validation scores."""
    run_dir = Path(run_dir).resolve()
    found = []
    for folder in _candidates(run_dir, ledger_runs or []):
        settings = _settings(folder)
        if settings is None or not _same_place(str(settings.get("data.source", "")), source):
            continue
        status = RunFolder(folder).read_status()
        found.append({"id": folder.name, "run_dir": str(folder), "this": folder.resolve() == run_dir,
                      "status": status.get("status", "unknown"), "epochs_run": status.get("epochs_run"),
                      "best_epoch": status.get("best_epoch"), "best_metrics": status.get("best_metrics") or {},
                      "monitor": settings.get("training.monitor", ""), "settings": settings,
                      "test_looks": len(status.get("test_evaluations") or [])})
    found.sort(key=lambda r: r["id"])
    varied = _varied_keys([r["settings"] for r in found])
    for row in found:
        keys = list(dict.fromkeys([*(k for k in KEY_SETTINGS if k in row["settings"]), *varied[:MAX_DIFFERENCES]]))
        row["key_settings"] = {k: row["settings"].get(k) for k in keys}
        del row["settings"]
    return found


def _varied_keys(all_settings: list[dict[str, Any]]) -> list[str]:
    """Settings that differ between the runs (outside the key settings), in name order."""
    keys = sorted(set().union(*all_settings)) if all_settings else []
    varied = []
    for key in keys:
        if key in KEY_SETTINGS or key in _NOT_SETTINGS or key == "schema_version":
            continue
        if len({json.dumps(s.get(key), sort_keys=True, default=str) for s in all_settings}) > 1:
            varied.append(key)
    return varied
