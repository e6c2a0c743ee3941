"""The training engine end to end on a tiny dataset: events, run folder, index, stop, resume, NaN, early stopping."""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path

import pytest
import torch

from workbench.core.callbacks import Callback, CollectingCallback
from workbench.core.events import (
    BatchEnded,
    CheckpointSaved,
    EpochEnded,
    FindingRaised,
    RunFailed,
    RunFinished,
    RunStarted,
)
from workbench.core.runs import RunStore
from workbench.core.training.checkpoints import load_checkpoint
from workbench.core.training.control import RunControl
from workbench.core.training.engine import train
from workbench.core.training.monitors import Monitor


def test_run_emits_events_and_writes_its_folder(tiny_project) -> None:
    events = CollectingCallback()
    result = train(tiny_project, events)
    assert result.status == "completed", result.reason
    kinds = [type(e) for e in events.events if not isinstance(e, (BatchEnded,))]
    assert kinds.index(RunStarted) < kinds.index(EpochEnded) < kinds.index(RunFinished)
    epochs = events.of_type(EpochEnded)
    assert [e.epoch for e in epochs] == [1, 2]
    assert {"accuracy", "balanced_accuracy", "macro_f1", "per_class", "confusion_matrix"} <= set(epochs[0].metrics)
    assert len(epochs[0].metrics["per_class"]) == 3
    assert events.of_type(BatchEnded)[-1].global_step == 2 * events.of_type(RunStarted)[0].batches_per_epoch
    run = result.run_dir
    for name in ("config.toml", "split.csv", "norm_stats.json", "classes.json", "data_report.json", "metrics.jsonl",
                 "log.txt", "run.json", "checkpoints/last.pt", "checkpoints/best.pt"):
        assert (run / name).exists(), name
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2]
    record = RunStore(tiny_project.runs_dir).get(result.run_id)
    assert record is not None and record.status == "completed" and record.best_epoch == result.best_epoch
    assert record.model == "small_cnn" and "accuracy" in record.best_metrics
    assert len([e for e in events.of_type(CheckpointSaved) if e.kind == "last"]) == 2


def test_training_learns_the_shapes(tiny_project) -> None:
    tiny_project.training.epochs = 8
    result = train(tiny_project)
    assert result.best_metrics["accuracy"] >= 0.8


def test_same_seed_same_result(tiny_project) -> None:
    a, b = train(tiny_project), train(tiny_project)
    history = [json.loads((r.run_dir / "run.json").read_text())["history"] for r in (a, b)]
    assert [h["train_loss"] for h in history[0]] == pytest.approx([h["train_loss"] for h in history[1]], rel=1e-5)


class StopAt(Callback):
    def __init__(self, control: RunControl, epoch: int, batch: int | None = None) -> None:
        self.control, self.epoch, self.batch = control, epoch, batch

    def on_epoch_ended(self, event: EpochEnded) -> None:
        if self.batch is None and event.epoch == self.epoch:
            self.control.request_stop()

    def on_batch_ended(self, event: BatchEnded) -> None:
        if self.batch is not None and (event.epoch, event.batch) == (self.epoch, self.batch):
            self.control.request_stop()


def test_stop_at_epoch_boundary_then_resume_matches_uninterrupted(tiny_project) -> None:
    tiny_project.training.epochs = 3
    reference = train(tiny_project)
    control = RunControl()
    stopped = train(tiny_project, StopAt(control, epoch=1), control)
    assert stopped.status == "stopped"
    saved = load_checkpoint(stopped.run_dir / "checkpoints" / "last.pt")
    assert saved["epoch"] == 1 and saved["next_batch"] == 0
    resumed = train(None, resume=stopped.run_dir)
    assert resumed.status == "completed" and resumed.epochs_run == 3
    got = json.loads((resumed.run_dir / "run.json").read_text())["history"]
    want = json.loads((reference.run_dir / "run.json").read_text())["history"]
    assert [h["val_loss"] for h in got] == pytest.approx([h["val_loss"] for h in want], rel=1e-4, abs=1e-6)


def test_stop_mid_epoch_keeps_position_and_resumes(tiny_project) -> None:
    control = RunControl()
    stopped = train(tiny_project, StopAt(control, epoch=1, batch=2), control)
    assert stopped.status == "stopped"
    saved = load_checkpoint(stopped.run_dir / "checkpoints" / "last.pt")
    assert (saved["epoch"], saved["next_batch"]) == (0, 2)
    events = CollectingCallback()
    resumed = train(None, events, resume=stopped.run_dir)
    assert resumed.status == "completed"
    assert events.of_type(RunStarted)[0].resumed_from_epoch == 0
    assert events.of_type(BatchEnded)[0].batch == 3, "the resumed epoch continues after the last batch done"
    assert RunStore(tiny_project.runs_dir).get(stopped.run_id).status == "completed"


def test_pause_blocks_until_resume(tiny_project) -> None:
    control = RunControl()
    stamps: list[float] = []

    class PauseOnce(Callback):
        def on_batch_ended(self, event: BatchEnded) -> None:
            stamps.append(time.monotonic())
            if event.global_step == 1:
                control.pause()
                threading.Timer(0.5, control.resume).start()

    assert train(tiny_project, PauseOnce(), control).status == "completed"
    assert stamps[1] - stamps[0] >= 0.45


class PoisonAfterFirstEpoch(Monitor):
    def setup(self, context) -> None:
        self.model = context.model

    def on_epoch_end(self, epoch: int, record: dict) -> None:
        if epoch == 1:
            with torch.no_grad():
                for p in self.model.parameters():
                    p.fill_(float("nan"))


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny_project) -> None:
    events = CollectingCallback()
    result = train(tiny_project, events, monitors=[PoisonAfterFirstEpoch()])
    assert result.status == "failed"
    assert "nan" in result.reason.lower() and "last good checkpoint (epoch 1)" in result.reason
    failed = events.of_type(RunFailed)[0]
    kept = load_checkpoint(Path(failed.kept_checkpoint))
    assert kept["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in kept["model"].values() if t.is_floating_point())
    assert any(f.code == "non-finite-loss" for f in events.of_type(FindingRaised))
    assert RunStore(tiny_project.runs_dir).get(result.run_id).status == "failed"


def test_huge_learning_rate_on_raw_pixels_is_diagnosed(tiny_project) -> None:
    tiny_project.preprocessing.normalization = "none"
    tiny_project.model.small_cnn.normalization = "none"  # batch norm would rescue raw inputs
    tiny_project.model.small_cnn.activation = "swish"  # ReLUs would die instead of overflowing
    tiny_project.training.optimizer = "sgd"
    tiny_project.training.lr = 10.0
    tiny_project.training.epochs = 3
    result = train(tiny_project)
    assert result.status == "failed"
    assert "learning rate" in result.reason and "not normalised" in result.reason


def test_early_stopping(tiny_project) -> None:
    tiny_project.training.epochs = 30
    tiny_project.training.early_stopping_patience = 1
    tiny_project.training.lr = 0.3  # noisy, so validation stops improving quickly
    tiny_project.training.optimizer = "sgd"
    result = train(tiny_project)
    assert result.status == "early_stopped" and result.epochs_run < 30


def test_class_weighting_and_label_smoothing_run(tiny_project) -> None:
    tiny_project.training.class_weighting = True
    tiny_project.training.label_smoothing = 0.1
    tiny_project.training.scheduler = "onecycle"
    assert train(tiny_project).status == "completed"


def test_missing_dataset_fails_cleanly_without_a_run_folder(tiny_project, tmp_path: Path) -> None:
    tiny_project.data.source = str(tmp_path / "gone")
    events = CollectingCallback()
    result = train(tiny_project, events)
    assert result.status == "failed" and "does not exist" in result.reason
    assert events.of_type(RunFailed) and result.run_dir is None


def test_resume_of_a_non_run_folder_is_explained(tmp_path: Path) -> None:
    result = train(None, resume=tmp_path)
    assert result.status == "failed" and "not a Workbench run folder" in result.reason


def test_val_loss_is_finite_and_lr_follows_schedule(tiny_project) -> None:
    tiny_project.training.scheduler = "step"
    tiny_project.training.step_size = 1
    tiny_project.training.gamma = 0.1
    events = CollectingCallback()
    train(tiny_project, events)
    epochs = events.of_type(EpochEnded)
    assert all(math.isfinite(e.val_loss) for e in epochs)
    # the rate each epoch trained with (step_size 1): lr in epoch 1, lr × 0.1 in epoch 2, not the next epoch's
    assert epochs[0].lr == pytest.approx(tiny_project.training.lr, rel=1e-6)
    assert epochs[1].lr == pytest.approx(tiny_project.training.lr * 0.1, rel=1e-6)


def test_logged_learning_rate_is_the_rate_of_that_step(tiny_project) -> None:
    from workbench.core.training.optim import lr_factor

    cfg = tiny_project.training
    cfg.scheduler, cfg.warmup_epochs = "cosine", 1
    events = CollectingCallback()
    train(tiny_project, events)
    batches = events.of_type(BatchEnded)
    steps = batches[0].batches
    assert len(batches) == cfg.epochs * steps and len({round(b.lr, 12) for b in batches}) > 2
    for event in batches:  # global_step counts from 1; the rate of step k is lr × lr_factor(k − 1)
        assert event.lr == pytest.approx(cfg.lr * lr_factor(cfg, event.global_step - 1, steps), rel=1e-9)
    assert batches[0].lr == pytest.approx(cfg.lr / steps, rel=1e-9)  # the first warm-up step, not the second
    last_of_epoch = [b.lr for b in batches if b.batch == b.batches]
    assert [e.lr for e in events.of_type(EpochEnded)] == pytest.approx(last_of_epoch, rel=1e-12)


def test_stop_during_data_preparation_is_a_stop_not_a_failure(tiny_project) -> None:
    from workbench.core.data.cache import clear_cache

    clear_cache()  # force a real scan and decode, so the stop lands inside them
    control = RunControl()
    control.request_stop()
    result = train(tiny_project, control=control)
    assert result.status == "stopped" and not result.reason


class _LayoutSeen(Monitor):
    """Records the memory layout of the model's convolution weights and of the batches it trains on."""

    def __init__(self) -> None:
        self.weights: list[bool] = []
        self.batches: list[bool] = []

    def setup(self, context) -> None:
        conv = next(p for p in context.model.parameters() if p.ndim == 4 and p.shape[1] > 1)
        self.weights.append(conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous())

    def on_step(self, step, epoch, loss, x, y, logits) -> None:
        assert x.shape[1] == 3  # with one channel both layouts are the same
        self.batches.append(x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous())


@pytest.mark.parametrize(("settings", "expected"), [
    ({}, True),  # the default: channels-last on the CPU too (faster oneDNN kernels)
    ({"training.channels_last": False}, False),
    ({"model.small_cnn.normalization": "instance"}, False),  # slower in that layout on the CPU
])
def test_cpu_runs_train_channels_last_where_it_is_faster(tiny_project, settings: dict, expected: bool) -> None:
    from workbench.core.config import with_updates

    seen = _LayoutSeen()
    result = train(with_updates(tiny_project, {"training.device": "cpu", "preprocessing.channels": "rgb",
                                                **settings}), monitors=[seen])
    assert result.status == "completed", result.reason
    assert seen.weights == [expected]
    assert seen.batches and set(seen.batches) == {expected}


def test_channels_last_choice_by_device_and_normalisation() -> None:
    from torch import nn

    from workbench.core.training.setup import uses_channels_last

    batch_norm = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    instance_norm = nn.Sequential(nn.Conv2d(3, 4, 3), nn.InstanceNorm2d(4))
    assert uses_channels_last(batch_norm, torch.device("cpu"))
    assert not uses_channels_last(instance_norm, torch.device("cpu"))
    assert uses_channels_last(instance_norm, torch.device("cuda"))  # cuDNN has fast channels-last kernels
    assert not uses_channels_last(batch_norm, torch.device("mps"))


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="glibc's allocator")
def test_training_steps_reuse_their_memory_instead_of_faulting_in_pages(tiny_project) -> None:
    """With the allocator's thresholds raised, a training step reuses the last step's freed memory; glibc's default
    hands it back and faults in fresh pages every step (16,000-30,000 a step for this small network)."""
    import subprocess
    import sys

    from workbench.core.training import allocator

    probe = (
        "import resource, sys, torch\n"
        "from torch import nn\n"
        "from workbench.core.training.allocator import retain_freed_memory\n"
        "if sys.argv[1] == 'set': assert retain_freed_memory()\n"
        "model = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.Conv2d(32, 32, 3,\n"
        "    padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.01)\n"
        "x, y = torch.randn(32, 3, 64, 64), torch.randint(0, 10, (32,))\n"
        "def step():\n"
        "    loss = nn.functional.cross_entropy(model(x), y); optimizer.zero_grad(); loss.backward(); optimizer.step()\n"
        "for _ in range(3): step()\n"
        "start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(10): step()\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) / 10)\n"
    )

    def faults_per_step(mode: str) -> float:
        return float(subprocess.run([sys.executable, "-c", probe, mode], capture_output=True, text=True,
                                    check=True).stdout)

    reused, default = faults_per_step("set"), faults_per_step("default")
    assert default > 2000 and reused < default / 10, (reused, default)
    result = train(tiny_project)  # and the engine sets it for its runs
    assert result.status == "completed" and allocator._done is True
