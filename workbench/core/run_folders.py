"""What a run folder says about itself: the folders are the truth, the SQLite index only a fast copy.

Each run folder holds config.toml (project, dataset, model, strategy) and, once it has ended, run.json
(status, best epoch and metrics). These are enough to rebuild the index when it is missing or damaged,
or to list the runs of a folder that cannot be written to.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from workbench.core.run_folder import RunFolder

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and RunFolder(path).is_run()


def _started(folder: Path) -> float:
    """The start time in the run id (YYYYmmdd-HHMMSS-xxxx), else the folder's modification time."""
    try:
        return time.mktime(time.strptime(folder.name[:15], "%Y%m%d-%H%M%S"))
    except ValueError:
        return folder.stat().st_mtime


def record_fields(folder: Path) -> dict[str, Any]:
    """The index columns of one run folder, read without validating the config (a damaged one still lists)."""
    try:
        raw = tomllib.loads(RunFolder(folder).config.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        raw = {}
    try:
        status = json.loads(RunFolder(folder).status_file.read_text(encoding="utf-8"))
        status = status if isinstance(status, dict) else {}
    except (OSError, ValueError):
        status = {}
    state = status.get("status")
    recorded = isinstance(state, str) and bool(state) and state != "running"
    if not isinstance(state, str) or not state:
        # No record of an end: it was interrupted (a checkpoint to resume from) or never got going.
        state = "interrupted" if RunFolder(folder).last_checkpoint.exists() else "failed"
    best = status.get("best_metrics")
    section = lambda name: raw.get(name) if isinstance(raw.get(name), dict) else {}  # noqa: E731
    return {
        "id": folder.name,
        "project": str(raw.get("name", "?")),
        "dataset": str(section("data").get("source", "")),
        "model": str(section("model").get("architecture", "?")),
        "strategy": str(section("strategy").get("name", "scratch")),
        "status": state,
        "best_epoch": status.get("best_epoch") if isinstance(status.get("best_epoch"), int) else None,
        "best_metrics": json.dumps(best) if isinstance(best, dict) else None,
        "started": _started(folder),
        "ended": status.get("finished") if isinstance(status.get("finished"), (int, float)) else None,
        "run_dir": str(folder),
        "recorded": recorded,  # run.json states how the run ended (not a column)
    }


def run_folders(runs_dir: Path) -> list[Path]:
    try:
        return [child for child in sorted(runs_dir.iterdir()) if is_run_folder(child)]
    except OSError:
        return []


def scan_run_folders(runs_dir: Path) -> list[dict[str, Any]]:
    """Index columns of every run folder in `runs_dir`."""
    return [record_fields(child) for child in run_folders(runs_dir)]
