"""Findings with a life (issue 14): a sustained trend raises them, a turn of the evidence resolves or withdraws
them, and what the monitors saw survives Stop and Resume (it is saved with the checkpoint)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from tests.core.diag_fixtures import digits, small_config, write_classes
from workbench.core.callbacks import Callback, CollectingCallback
from workbench.core.diagnostics.findings import WARNING
from workbench.core.diagnostics.loss_monitors import FitMonitor
from workbench.core.events import EpochEnded, FindingRaised
from workbench.core.training.control import RunControl
from workbench.core.training.engine import train


class _Emitter(list):
    def __call__(self, event) -> None:
        self.append(event)


def _monitor(tmp_path: Path, classes: int = 4) -> tuple[FitMonitor, _Emitter]:
    emit = _Emitter()
    data = SimpleNamespace(class_names=[f"c{i}" for i in range(classes)])
    monitor = FitMonitor()
    monitor.setup(SimpleNamespace(config=small_config(tmp_path, tmp_path), data=data, emit=emit, model=None))
    return monitor, emit


def _feed(monitor: FitMonitor, train_losses, val_losses, accuracy: float = 0.5) -> None:
    start = len(monitor.history) + 1
    for epoch, (t, v) in enumerate(zip(train_losses, val_losses, strict=True), start=start):
        monitor.on_epoch_end(epoch, {"train_loss": t, "val_loss": v, "train_accuracy": accuracy})


def test_a_warm_up_bump_raises_no_overfitting(tmp_path: Path) -> None:
    # Batch norm settling: the validation loss rises for two epochs, then falls for twelve (issue 14, item 3).
    monitor, emit = _monitor(tmp_path)
    train_losses = [1.3 - 0.07 * i for i in range(15)]
    val_losses = [1.2, 1.35, 1.3] + [1.15 - 0.04 * i for i in range(12)]
    _feed(monitor, train_losses, val_losses)
    assert emit == []


def test_overfitting_is_resolved_with_its_history_when_a_new_best_comes(tmp_path: Path) -> None:
    monitor, emit = _monitor(tmp_path)
    _feed(monitor, [1.3, 1.1, 0.9, 0.8, 0.7, 0.6], [1.2, 1.0, 1.1, 1.2, 1.3, 1.35])
    [raised] = emit
    assert (raised.code, raised.status, raised.evidence["began_epoch"]) == ("overfitting", "raised", 3)
    _feed(monitor, [0.55] * 8, [1.3, 1.25, 1.2, 1.1, 1.05, 1.02, 1.01, 0.95])
    final = emit[-1]
    assert final.status == "resolved"
    assert "overfitting from epoch 3 to 13; the validation loss fell to a new best (0.950" in final.history[-1]["note"]
    assert final.history[-1]["epoch"] == 14 and final.history[0]["status"] == "raised"


def test_underfitting_is_withdrawn_when_the_loss_falls_again(tmp_path: Path) -> None:
    monitor, emit = _monitor(tmp_path)
    _feed(monitor, [1.30, 1.25, 1.23, 1.22, 1.22], [1.3, 1.26, 1.24, 1.23, 1.23], accuracy=0.45)
    assert [(e.code, e.severity, e.status) for e in emit] == [("underfitting", WARNING, "raised")]
    _feed(monitor, [1.0, 0.7], [1.0, 0.75], accuracy=0.7)
    assert (emit[-1].code, emit[-1].status) == ("underfitting", "withdrawn")
    assert "fell again, to 0.700" in emit[-1].history[-1]["note"]


class _StopAfter(Callback):
    def __init__(self, control: RunControl, epoch: int) -> None:
        self.control, self.epoch = control, epoch

    def on_epoch_ended(self, event: EpochEnded) -> None:
        if event.epoch == self.epoch:
            self.control.request_stop()


def test_the_fit_monitor_remembers_across_stop_and_resume(tmp_path: Path) -> None:
    # Real digit scans and a rate far too low: the training loss plateaus near ln(4). Stopped after epoch 3,
    # the resumed run sees only 2 new epochs; underfitting is found only if epochs 1-3 were remembered.
    data = write_classes(tmp_path / "data", digits((0, 1, 2, 3), 40))
    config = small_config(data, tmp_path / "runs", epochs=5, lr=1e-6, batch_size=32)
    config.diagnostics.enabled = False
    control = RunControl()
    stopped = train(config, _StopAfter(control, 3), control, monitors=[FitMonitor()])
    assert stopped.status == "stopped"
    events = CollectingCallback()
    resumed = train(None, events, resume=stopped.run_dir, monitors=[FitMonitor()])
    assert resumed.status == "completed" and len(events.of_type(EpochEnded)) == 2
    [found] = [e for e in events.of_type(FindingRaised) if e.code == "underfitting"]
    assert len(found.evidence["recent_train_losses"]) == 3  # epochs 3-5: one of them from before the stop
    stored = json.loads((resumed.run_dir / "findings.json").read_text())["findings"]
    assert [f["code"] for f in stored if f["code"] == "underfitting"] == ["underfitting"]
