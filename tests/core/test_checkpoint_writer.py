"""The checkpoint writer: a consistent copy taken at save time, files written in the background in order,
and a failed write raised in the training thread (by the next save or by flush)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from workbench.core.training import checkpoints
from workbench.core.training.checkpoints import CheckpointWriter, load_checkpoint


def test_the_state_is_copied_when_saved_and_written_by_flush(tmp_path: Path) -> None:
    writer = CheckpointWriter()
    weights = torch.zeros(3)
    writer.save({"w": weights, "epoch": 1}, tmp_path / "last.pt")
    weights += 5  # training goes on changing the weights while the file is written
    writer.save({"w": weights, "epoch": 2}, tmp_path / "best.pt")
    writer.flush()
    assert load_checkpoint(tmp_path / "last.pt")["w"].tolist() == [0.0, 0.0, 0.0]
    assert load_checkpoint(tmp_path / "best.pt")["epoch"] == 2
    writer.close()


def test_a_failed_write_is_raised_by_flush_and_later_files_wait(tmp_path: Path, monkeypatch) -> None:
    written: list[str] = []

    def full_disk(path: Path, data: bytes) -> None:
        written.append(Path(path).name)
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(checkpoints, "atomic_write_bytes", full_disk)
    writer = CheckpointWriter()
    writer.save({"epoch": 1}, tmp_path / "last.pt")
    writer.save({"epoch": 1}, tmp_path / "best.pt")
    with pytest.raises(OSError, match="No space"):
        writer.flush()
    assert written == ["last.pt"] and not (tmp_path / "best.pt").exists()
    writer.flush()  # raised once
    writer.close()
