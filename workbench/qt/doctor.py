"""Background work of the pitfall doctor in the GUI: data checks, stored findings, the images of a run.

Each function runs on a worker thread (through `TaskManager.submit`) and imports the engine inside, so
the GUI never loads torch or the diagnostics on its own thread.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig
    from workbench.qt.tasks import TaskContext


def data_checks(config: ProjectConfig, context: TaskContext) -> list[Any]:
    """The findings of the engine's data checks on the project's dataset (as events, worst first)."""
    from workbench.core.data.pipeline import prepare_data
    from workbench.core.diagnostics import run_data_checks

    prepared = prepare_data(config, should_stop=context.should_stop,
                            progress=lambda done, total: context.progress(done, total, "Reading images"))
    findings = run_data_checks(prepared, config, should_stop=context.should_stop,
                               progress=lambda done, total: context.progress(done, total, "Checking the data"))
    return [f.to_event() for f in findings]


def stored_findings(run_dir: str) -> list[dict[str, Any]] | None:
    """The findings a run wrote to findings.json (a list, or {"findings": [...]}), or None without the file."""
    path = Path(run_dir) / "findings.json"
    if not path.is_file():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(raw, dict):
        raw = raw.get("findings", [])
    return [f for f in raw if isinstance(f, dict)] if isinstance(raw, list) else []


def split_samples(run_dir: str) -> list[tuple[str, str, str]]:
    """(path, label, split) of every row of the run's split.csv, in file order (the rows projections index)."""
    path = Path(run_dir) / "split.csv"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return [(row["path"], row["label"], row.get("split", "")) for row in csv.DictReader(handle)]


def register_monitors() -> None:
    """Import the diagnostics and projection packages, which register their run monitors with the engine."""
    import workbench.core.diagnostics
    import workbench.core.projection  # noqa: F401
