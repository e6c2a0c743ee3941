"""Moving runs made before a project was first saved into the project's own runs folder.

An unsaved project keeps its runs in a per-user folder. When the project is saved, those runs move to
the runs folder beside the project file, with their index records, the dataset findings kept beside
them, and a note in the test-set ledger (so their looks at the test set stay theirs), and the Runs view,
Evaluate and Export find them there.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core.dataset_findings import merge_store
from workbench.core.evaluation.test_lock import record_move
from workbench.core.io import atomic_write_bytes
from workbench.core.runs import RunRecord, RunStore, read_json


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
    _move_kfold_summaries(result, target)
    return result


def _move_kfold_summaries(result: MoveResult, target: Path) -> None:
    """A cross-validation's summary (kfold-*.json) follows its fold runs, with their new folders, so that it can
    still be resumed; one whose folds did not all move stays, and says so."""
    for folder in sorted({Path(old).parent for old in result.moved}):
        for summary in sorted(folder.glob("kfold-*.json")):
            saved = read_json(summary, None)
            folds = saved.get("folds") if isinstance(saved, dict) else None
            if not folds:
                continue
            dirs = [str(Path(f["run_dir"]).resolve()) for f in folds if f.get("run_dir")]
            if not any(d in result.moved for d in dirs):
                continue
            if not all(d in result.moved for d in dirs):
                result.problems.append(f"the cross-validation summary {summary.name} stays in {folder}: some of its "
                                       "fold runs did not move")
                continue
            for fold in folds:
                if fold.get("run_dir"):
                    fold["run_dir"] = result.moved[str(Path(fold["run_dir"]).resolve())]
            try:
                atomic_write_bytes(target / summary.name, json.dumps(saved, indent=2).encode("utf-8"))
                summary.unlink()
            except OSError as error:
                result.problems.append(f"the cross-validation summary {summary.name} could not be moved: {error}")
