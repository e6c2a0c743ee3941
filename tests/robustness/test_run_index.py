"""The run folders are the truth: the SQLite index is rebuilt from them when missing, damaged or locked."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.core import runs as runs_module
from workbench.core.config import save_config
from workbench.core.runs import INDEX_NAME, RunStore
from workbench.core.training.engine import train


@pytest.fixture
def two_runs(tiny_project, tmp_path: Path) -> tuple[Path, list[str]]:
    ids = []
    for epochs in (1, 2):
        tiny_project.training.epochs = epochs
        result = train(tiny_project)
        assert result.status == "completed", result.reason
        ids.append(result.run_id)
    return Path(tiny_project.runs_dir), ids


def _listed(capsys: pytest.CaptureFixture[str], runs_dir: Path) -> tuple[int, str, str]:
    code = main(["runs", str(runs_dir)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_deleted_index_is_rebuilt_by_runs_and_train(two_runs, tiny_project, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    runs_dir, ids = two_runs
    (runs_dir / INDEX_NAME).unlink()
    code, out, err = _listed(capsys, runs_dir)
    assert code == 0 and all(i in out for i in ids) and out.count("completed") == 2
    assert f"note: the run index {runs_dir / INDEX_NAME} was missing and was rebuilt from the run folders" in err
    record = RunStore(runs_dir).get(ids[1])
    assert record is not None and record.best_epoch in (1, 2) and record.model == "small_cnn"
    assert "accuracy" in record.best_metrics
    (runs_dir / INDEX_NAME).unlink()
    project = tmp_path / "p.toml"
    save_config(tiny_project, project)
    assert main(["train", str(project), "--epochs", "1"]) == 0
    assert len(RunStore(runs_dir).list_runs()) == 3


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong-table"])
def test_corrupt_index_is_set_aside_and_rebuilt(two_runs, tiny_project, tmp_path: Path, damage: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    runs_dir, ids = two_runs
    index = runs_dir / INDEX_NAME
    with sqlite3.connect(index) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    if damage == "garbage":
        index.write_bytes(b"this is not a database at all" * 100)
    elif damage == "truncated":
        index.write_bytes(index.read_bytes()[:1500])
    else:
        with sqlite3.connect(index) as db:
            db.execute("DROP TABLE runs")
            db.execute("CREATE TABLE runs (id TEXT)")
    code, out, err = _listed(capsys, runs_dir)
    assert code == 0 and all(i in out for i in ids), err
    assert "was damaged" in err and "rebuilt from the run folders" in err
    assert list(runs_dir.glob(f"{INDEX_NAME}.damaged-*")), "the damaged index is kept for inspection"
    project = tmp_path / "p.toml"
    save_config(tiny_project, project)
    assert main(["train", str(project), "--epochs", "1"]) == 0
    assert len(RunStore(runs_dir).list_runs()) == 3


def test_locked_index_neither_blocks_a_run_nor_leaves_an_empty_folder(two_runs, tiny_project,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    runs_dir, ids = two_runs
    monkeypatch.setattr(runs_module, "LOCK_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(runs_dir / INDEX_NAME, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    attempts: list[int] = []
    connect = RunStore._connect

    def counted(self):
        attempts.append(1)
        return connect(self)

    monkeypatch.setattr(RunStore, "_connect", counted)
    try:
        tiny_project.training.epochs = 3
        result = train(tiny_project)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.status == "completed", result.reason
    assert len(attempts) <= 3, "after one lock timeout the index is left alone, not waited on at every epoch"
    assert json.loads((result.run_dir / "run.json").read_text())["status"] == "completed"
    listed = {r.id: r.status for r in RunStore(runs_dir).list_runs()}
    assert listed == {ids[0]: "completed", ids[1]: "completed", result.run_id: "completed"}


def test_read_only_runs_archive_is_listed_from_its_folders(two_runs, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    runs_dir, ids = two_runs

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "write_bytes", refuse)  # as on a read-only mount (tests may run as root)
    code, out, err = _listed(capsys, runs_dir)
    assert code == 0 and all(i in out for i in ids) and out.count("completed") == 2, err
