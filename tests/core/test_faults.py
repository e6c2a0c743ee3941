"""Faults survived by the engine: out of memory, a full disk, an unwritable runs folder, many start/stop cycles."""

from __future__ import annotations

import shutil
from collections import namedtuple
from pathlib import Path

import pytest
import torch
from torch import nn

from workbench.core.callbacks import CollectingCallback
from workbench.core.events import EpochEnded, FindingRaised
from workbench.core.runs import RunStore
from workbench.core.training import setup
from workbench.core.training.control import RunControl
from workbench.core.training.engine import train


class RefusesBigBatches(nn.Module):
    """Raises the CUDA out-of-memory error for batches over `limit`, like a card that is too small."""

    def __init__(self, inner: nn.Module, limit: int) -> None:
        super().__init__()
        self.inner, self.limit = inner, limit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.inner(x)


def test_out_of_memory_halves_the_batch_and_goes_on(tiny_project, monkeypatch: pytest.MonkeyPatch) -> None:
    real = setup.build_model
    monkeypatch.setattr(setup, "build_model", lambda *a: RefusesBigBatches(real(*a), limit=8))
    events = CollectingCallback()
    result = train(tiny_project, events)
    assert result.status == "completed", result.reason
    findings = [f for f in events.of_type(FindingRaised) if f.code == "out-of-memory"]
    assert findings and findings[0].evidence["new_batch_size"] == 8
    assert len(events.of_type(EpochEnded)) == 2


def test_disk_too_small_is_refused_before_training(tiny_project, monkeypatch: pytest.MonkeyPatch) -> None:
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    events = CollectingCallback()
    result = train(tiny_project, events)
    assert result.status == "failed" and "free" in result.reason and "choose another runs folder" in result.reason
    assert not events.of_type(EpochEnded)


def test_disk_full_mid_run_stops_cleanly_listing_what_was_saved(tiny_project, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.core.training import checkpoints

    real = checkpoints.atomic_write_bytes
    writes: list[str] = []

    def failing(path: Path, data: bytes) -> None:  # the checkpoint writer's thread: the disk fills at epoch 2
        writes.append(Path(path).name)
        if writes.count("last.pt") == 2 and Path(path).name == "last.pt":
            raise OSError(28, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(checkpoints, "atomic_write_bytes", failing)
    result = train(tiny_project)
    assert result.status == "failed"
    assert "disk is full" in result.reason and "checkpoints/last.pt (epoch 1)" in result.reason


def test_unwritable_runs_folder(tiny_project, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the runs folder should be")
    tiny_project.runs_dir = str(blocker)
    result = train(tiny_project)
    assert result.status == "failed" and "not writable" in result.reason


def test_fifty_start_stop_cycles_keep_the_index_consistent(tiny_project) -> None:
    tiny_project.training.epochs = 1
    store = RunStore(tiny_project.runs_dir)

    class StopAtSecondBatch(CollectingCallback):
        def __init__(self, control: RunControl) -> None:
            super().__init__()
            self.control = control

        def on_event(self, event) -> None:
            if getattr(event, "global_step", 0) == 2:
                self.control.request_stop()

    for i in range(50):
        control = RunControl()
        train(tiny_project, StopAtSecondBatch(control) if i % 2 else None, control)
    records = store.list_runs()
    folders = sorted(p.name for p in Path(tiny_project.runs_dir).iterdir() if p.is_dir())
    assert sorted(r.id for r in records) == folders and len(records) == 50
    statuses = [r.status for r in records]
    assert statuses.count("completed") == 25 and statuses.count("stopped") == 25
    for r in records:
        assert (Path(r.run_dir) / "checkpoints" / "last.pt").exists(), "every stopped run can be resumed"
