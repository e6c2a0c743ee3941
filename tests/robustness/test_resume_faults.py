"""Resuming a run whose checkpoints are damaged or missing: a fallback that is said, never silent repeats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from workbench.core.training.checkpoints import CheckpointError, load_checkpoint
from workbench.core.training.engine import train


class Opaque:
    """Not a plain container: refused by weights-only loading."""


def _messages() -> tuple[list[str], object]:
    seen: list[str] = []

    class Log:
        def on_event(self, event) -> None:
            seen.append(getattr(event, "message", ""))

    return seen, Log()


def test_damaged_and_unsafe_checkpoints_are_told_apart(tmp_path: Path) -> None:
    torch.save({"model": {}, "x": Opaque()}, tmp_path / "unsafe.pt")
    with pytest.raises(CheckpointError, match=r"holds Python objects other than plain weights\. Workbench never"):
        load_checkpoint(tmp_path / "unsafe.pt")
    torch.save({"model": {"w": torch.zeros(1000)}}, tmp_path / "cut.pt")
    data = (tmp_path / "cut.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(tmp_path / "cut.pt")
    assert f"checkpoint {tmp_path / 'cut.pt'} is damaged or incomplete (" in str(error.value)
    assert "probably cut off by a crash or a full disk" in str(error.value) and "unpickle" not in str(error.value)


def test_damaged_last_checkpoint_falls_back_to_best(tiny_project) -> None:
    tiny_project.training.epochs = 3
    first = train(tiny_project)
    assert first.status == "completed"
    last = first.run_dir / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:200])
    best_epoch = int(torch.load(first.run_dir / "checkpoints" / "best.pt", weights_only=True)["epoch"])
    tiny_project.training.epochs = 4
    seen, log = _messages()
    resumed = train(tiny_project, log, resume=first.run_dir)
    assert resumed.status == "completed", resumed.reason
    assert any("is damaged or incomplete" in m and f"Continuing from best.pt (epoch {best_epoch}) instead" in m
               for m in seen), seen
    epochs = [json.loads(line)["epoch"] for line in (first.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3, 4][:best_epoch] + list(range(best_epoch + 1, 5)), "each epoch is logged once"
    assert [h["epoch"] for h in json.loads((first.run_dir / "run.json").read_text())["history"]] == [1, 2, 3, 4]


def test_run_without_checkpoint_restarts_without_repeating_its_metrics(tiny_project) -> None:
    first = train(tiny_project)
    for name in ("last.pt", "best.pt"):
        (first.run_dir / "checkpoints" / name).unlink()
    seen, log = _messages()
    resumed = train(tiny_project, log, resume=first.run_dir)
    assert resumed.status == "completed", resumed.reason
    assert any("no usable checkpoint after epoch 0" in m and "metrics.before-restart.jsonl" in m for m in seen), seen
    epochs = [json.loads(line)["epoch"] for line in (first.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2]
    moved = (first.run_dir / "metrics.before-restart.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in moved] == [1, 2]
