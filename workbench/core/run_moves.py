"""Moving runs made before a project was first saved into the project's own runs folder.

An unsaved project keeps its runs in a per-user folder. When the project is saved, those runs move to
the runs folder beside the project file, with their index records, the dataset findings kept beside
them, and a note in the test-set ledger (so their looks at the test set stay theirs), and the Runs view,
Evaluate and Export find them there.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core.dataset_findings import merge_store
from workbench.core.evaluation.test_lock import record_move
from workbench.core.runs import RunRecord, RunStore


@dataclass
class MoveResult:
    moved: dict[str, str] = field(default_factory=dict)  # old run folder -> new run folder
    problems: list[str] = field(default_factory=list)  # one plain sentence per run that could not move


def adopt_runs(run_dirs: list[str | Path], target_runs_dir: str | Path) -> MoveResult:
    """Move each run folder into `target_runs_dir` (skipping those already there); never raises for one run."""
    target = Path(target_runs_dir).expanduser().resolve()
    result = MoveResult()
    new_store: RunStore | None = None
    for given in run_dirs:
        source = Path(given).expanduser().resolve()
        if source.parent == target or not source.is_dir():
            continue
        destination = target / source.name
        if destination.exists():
            result.problems.append(f"run {source.name} was not moved: {destination} already exists")
            continue
        try:
            old_store = RunStore(source.parent)
            record: RunRecord | None = old_store.get(source.name)
            new_store = new_store or RunStore(target)
            shutil.move(str(source), str(destination))
        except OSError as error:
            result.problems.append(f"run {source.name} could not be moved to {target}: {error}. It stays in "
                                   f"{source.parent}; move the folder by hand if you need it beside the project.")
            continue
        if record is not None:
            new_store.add_existing(record, destination)
            old_store.forget(source.name)
        merge_store(source.parent, target)
        record_move(source, destination)
        result.moved[str(source)] = str(destination)
    return result
