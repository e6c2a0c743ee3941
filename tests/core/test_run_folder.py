"""The run-folder layout and the one "resumable" rule that the Runs view and the Train pane share."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.core.config import ConfigError, ProjectConfig, save_config
from workbench.core.run_folder import RunFolder


def _folder(tmp_path: Path, *checkpoints: str) -> RunFolder:
    folder = RunFolder(tmp_path / "run")
    folder.checkpoints.mkdir(parents=True)
    for name in checkpoints:
        folder.checkpoint(name).write_bytes(b"weights")
    return folder


@pytest.mark.parametrize(("status", "checkpoints", "expected"), [
    ("completed", ("last", "best"), False),  # finished: nothing to continue
    ("early_stopped", ("last", "best"), False),
    ("stopped", ("last", "best"), True),
    ("stopped", (), False),  # stopped while preparing data: no epoch to continue from
    ("failed", ("last",), True),  # failed later on: the last good checkpoint is kept
    ("failed", (), False),
    ("running", ("last",), True),  # the index says running but the app is gone: interrupted
    ("running", (), False),  # training its first epoch: nothing saved yet
    ("interrupted", ("last",), True),  # as an index rebuilt from the folders calls it
    ("stopped", ("best",), False),  # best.pt alone: the engine continues from last.pt only
    ("", ("last",), False),
])
def test_the_resumable_rule(tmp_path: Path, status: str, checkpoints: tuple[str, ...], expected: bool) -> None:
    assert _folder(tmp_path, *checkpoints).resumable(status) is expected


def test_the_layout_names_every_file(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    assert [p.name for p in (folder.config, folder.split, folder.norm_stats, folder.classes, folder.data_report,
                             folder.metrics, folder.status_file, folder.log, folder.findings)] == [
        "config.toml", "split.csv", "norm_stats.json", "classes.json", "data_report.json", "metrics.jsonl",
        "run.json", "log.txt", "findings.json"]
    assert folder.last_checkpoint == tmp_path / "checkpoints" / "last.pt"
    assert folder.best_checkpoint == folder.checkpoint("best") == folder.checkpoint("best.pt")
    assert RunFolder.split == Path("split.csv")  # the layout, relative, read off the class
    with pytest.raises(AttributeError):
        folder.split = tmp_path / "elsewhere.csv"


def test_reading_the_small_files(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "run")
    assert not folder.is_run() and folder.read_status() == {} and folder.read_classes() == []
    with pytest.raises(ConfigError, match=r"no config\.toml"):
        folder.load_config()
    folder.path.mkdir()
    save_config(ProjectConfig(name="cells"), folder.config)
    folder.classes.write_text(json.dumps(["a", "b"]), encoding="utf-8")
    folder.status_file.write_text(json.dumps({"status": "completed", "best_epoch": 2}), encoding="utf-8")
    assert folder.is_run() and folder.load_config().name == "cells"
    assert folder.read_classes() == ["a", "b"] and folder.read_status()["best_epoch"] == 2
    folder.status_file.write_text("[1, 2]", encoding="utf-8")  # not a dict: treated as missing
    assert folder.read_status() == {}
    assert not folder.has_weights()
    folder.checkpoints.mkdir()
    folder.last_checkpoint.write_bytes(b"w")
    assert folder.has_weights()
