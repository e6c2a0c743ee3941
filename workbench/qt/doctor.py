"""Background work of the pitfall doctor in the GUI: data checks, stored findings, the images of a run.

Each function runs on a worker thread (through `TaskManager.submit`) and imports the engine inside, so
the GUI never loads torch or the diagnostics on its own thread.
"""

from __future__ import annotations

import csv
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig
    from workbench.qt.tasks import TaskContext


def data_checks(config: ProjectConfig, context: TaskContext) -> list[Any]:
    """The findings of the engine's data checks on the project's dataset (as events, worst first).

    They run in a helper process (reading the images included), so the window keeps its GIL, and come
    from the dataset's stored results where this dataset and these settings were checked before; a run
    started later reuses what they stored.
    """
    from workbench.core.diagnostics.findings import severity_rank
    from workbench.core.diagnostics.helper_process import HelperJob

    found: list[Any] = []
    stages = {"scan": "Finding images", "decode": "Reading images"}

    def on_message(message: Any) -> None:
        if message[0] == "finding":
            found.append(message[1])
        elif message[0] == "stage":
            context.progress(message[2], message[3], stages.get(message[1], message[1]))
        elif message[0] == "progress":
            context.progress(message[1], message[2], "Checking the data")

    job = HelperJob("workbench.core.diagnostics.background_jobs:project_checks_job", {"config": config},
                    on_message, name="data-checks").start()
    while not job.join(0.2):
        if context.should_stop():
            job.cancel()
            raise InterruptedError("data checks cancelled")
    if job.error:
        raise RuntimeError(f"the data checks failed: {job.error.strip().splitlines()[-1]}")
    return [f.to_event() for f in sorted(found, key=lambda f: -severity_rank(f.severity))]


def stored_findings(run_dir: str) -> list[dict[str, Any]] | None:
    """The findings a run wrote to findings.json (a list, or {"findings": [...]}), or None without the file."""
    from workbench.core.run_folder import RunFolder

    path = RunFolder(run_dir).findings
    if not path.is_file():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(raw, dict):
        raw = raw.get("findings", [])
    return [f for f in raw if isinstance(f, dict)] if isinstance(raw, list) else []


def split_samples(run_dir: str) -> list[tuple[str, str, str]]:
    """(path, label, split) of every row of the run's split.csv, in file order (the rows projections index)."""
    from workbench.core.run_folder import RunFolder

    path = RunFolder(run_dir).split
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return [(row["path"], row["label"], row.get("split", "")) for row in csv.DictReader(handle)]


def register_monitors() -> None:
    """Import the diagnostics and projection packages, which register their run monitors with the engine."""
    import workbench.core.diagnostics
    import workbench.core.projection  # noqa: F401
