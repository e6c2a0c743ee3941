"""Runs made before the first save move into the project's runs folder with their index record and their
looks at the test set (which stay theirs, not those of a deleted run)."""

from __future__ import annotations

import time
from pathlib import Path

from tests.core.eval_fixtures import *  # noqa: F403
from workbench.core.dataset_findings import load_dataset_record, save_data_findings
from workbench.core.evaluation.evaluate import evaluate_run
from workbench.core.evaluation.test_lock import summarize_test_uses
from workbench.core.run_moves import adopt_runs
from workbench.core.runs import RunRecord, RunStore


def test_adopted_runs_keep_their_record_findings_and_test_looks(eval_run: Path, tmp_path: Path) -> None:
    RunStore(eval_run.parent).add_existing(RunRecord(eval_run.name, "untitled", "/data", "small_cnn", "scratch",
                                                     "completed", 2, {"accuracy": 0.9}, time.time(), None,
                                                     str(eval_run)), eval_run)
    save_data_findings(eval_run.parent, "/data", [{"code": "small-data", "severity": "info", "title": "Few images"}])
    evaluate_run(eval_run, "test", gallery=0, bootstrap_samples=20)
    target = tmp_path / "project" / "runs"
    result = adopt_runs([eval_run], target)
    moved = target / eval_run.name
    assert result.moved == {str(eval_run.resolve()): str(moved.resolve())} and result.problems == []
    assert not eval_run.exists() and (moved / "config.toml").is_file()
    record = RunStore(target).get(eval_run.name)
    assert record is not None and record.run_dir == str(moved.resolve()) and record.best_metrics == {"accuracy": 0.9}
    assert RunStore(eval_run.parent).get(eval_run.name) is None
    assert load_dataset_record(target, "/data")["findings"][0]["code"] == "small-data"
    uses = summarize_test_uses(moved)
    assert uses["project_uses"] == 1 and uses["deleted_runs"] == []  # moved, not deleted
    assert adopt_runs([moved], target).moved == {}  # already there: nothing to do


def test_a_cross_validation_summary_follows_its_fold_runs(tmp_path: Path) -> None:
    import json

    old = tmp_path / "unsaved" / "runs"
    folds = []
    for name in ("run-a", "run-b"):
        (old / name).mkdir(parents=True)
        (old / name / "config.toml").write_text('name = "untitled"\n', encoding="utf-8")
        folds.append({"run_id": name, "run_dir": str(old / name), "status": "completed"})
    (old / "kfold-run-a.json").write_text(json.dumps({"k": 2, "folds": folds}), encoding="utf-8")
    target = tmp_path / "project" / "runs"
    result = adopt_runs([old / "run-a", old / "run-b"], target)
    assert result.problems == [] and not (old / "kfold-run-a.json").exists()
    moved = json.loads((target / "kfold-run-a.json").read_text(encoding="utf-8"))
    assert [f["run_dir"] for f in moved["folds"]] == [str((target / n).resolve()) for n in ("run-a", "run-b")]
