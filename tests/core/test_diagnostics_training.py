"""Training checks: planted faults in real short runs, and the monitors' rules on synthetic curves."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from tests.core.diag_fixtures import bars_dataset, codes, noise, small_config, write_classes
from workbench.core.callbacks import CollectingCallback
from workbench.core.data.pipeline import prepare_data
from workbench.core.diagnostics import apply_patch, check_output_pairing, lr_finding, lr_range_test
from workbench.core.diagnostics.findings import PROBLEM, WARNING
from workbench.core.diagnostics.loss_monitors import FitMonitor, InitialLossMonitor, LossTrendMonitor
from workbench.core.diagnostics.network_monitors import DeadUnitMonitor, GradientMonitor, OutputPairingMonitor, dead_unit_shares
from workbench.core.diagnostics.run_monitors import ShortcutMonitor, diagnostic_monitors
from workbench.core.events import FindingRaised
from workbench.core.training.engine import train


def _training_monitors():
    return [OutputPairingMonitor(), InitialLossMonitor(), LossTrendMonitor(), FitMonitor(), DeadUnitMonitor(),
            GradientMonitor()]


def _run(config, monitors) -> list[FindingRaised]:
    callback = CollectingCallback()
    train(config, callback, monitors=monitors)
    return callback.of_type(FindingRaised)


class _Emitter:
    def __init__(self) -> None:
        self.events: list[FindingRaised] = []

    def __call__(self, event) -> None:
        self.events.append(event)


def _fake_context(config, classes: int = 10):
    """Just enough of a MonitorContext for the curve-based monitors."""
    emit = _Emitter()
    data = SimpleNamespace(class_names=[f"c{i}" for i in range(classes)],
                           stats=SimpleNamespace(mode="zscore", value_scale=255.0))
    return SimpleNamespace(config=config, data=data, emit=emit, model=None), emit


# --- planted faults in real runs -------------------------------------------------------------------


def test_learning_rate_ten_diverges(tmp_path: Path) -> None:
    config = small_config(bars_dataset(tmp_path / "data"), tmp_path / "runs", lr=10.0, optimizer="sgd", epochs=2)
    found = codes(_run(config, _training_monitors()))
    assert found.keys() & {"loss-diverging", "non-finite-loss", "exploding-gradients"}
    assert PROBLEM in found.values()


def test_raw_sixteen_bit_input_gives_an_initial_loss_far_above_ln_c(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = {name: [(im.astype(np.uint16) * 257) for im in noise(30, rng)] for name in ("a", "b", "c", "d")}
    config = small_config(write_classes(tmp_path / "data", images), tmp_path / "runs", epochs=1)
    config.preprocessing.normalization = "none"
    config.model.small_cnn.normalization = "none"
    events = _run(config, [InitialLossMonitor(batches=2)])
    assert codes(events) == {"initial-loss-high": PROBLEM}
    assert events[0].evidence["patch"] == {"preprocessing.normalization": "zscore"}


def test_a_fixed_white_pixel_in_one_class_is_found_as_a_shortcut(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    marked = noise(150, rng)
    for image in marked:
        image[4, 11] = 255  # the one-pixel "attack" of Fig. 5, in every training image of the class
    root = tmp_path / "data"
    write_classes(root, {"marked": marked, "plain": noise(150, rng)}, split="train")
    write_classes(root, {"marked": noise(30, rng), "plain": noise(30, rng)}, split="val")
    write_classes(root, {"marked": noise(5, rng), "plain": noise(5, rng)}, split="test")
    config = small_config(root, tmp_path / "runs", epochs=10, lr=3e-3)
    config.data.layout = "presplit"
    monitor = ShortcutMonitor()
    events = _run(config, [monitor])
    assert codes(events) == {"shortcut-region": PROBLEM}
    evidence = events[0].evidence
    assert evidence["class"] == "marked"
    assert any(abs(r - 4) <= 1 and abs(c - 11) <= 1 for r, c in evidence["region_pixels"][:4])
    assert evidence["flip_rate"] >= 0.5 > evidence["flip_rate_random_pixels"]
    maps = np.load(evidence["maps"])
    assert maps.shape == (2, 16, 16) and Path(evidence["image"]).is_file()
    assert set(monitor.report.class_maps) == {"marked", "plain"}


def test_a_bright_frame_edge_in_one_class_is_found_as_a_border_shortcut(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    framed = noise(150, rng)
    for image in framed:
        image[0, :] = 255  # a scanner's bright edge on one class's images only
    root = tmp_path / "data"
    write_classes(root, {"framed": framed, "plain": noise(150, rng)}, split="train")
    write_classes(root, {"framed": noise(30, rng), "plain": noise(30, rng)}, split="val")
    write_classes(root, {"framed": noise(5, rng), "plain": noise(5, rng)}, split="test")
    config = small_config(root, tmp_path / "runs", epochs=6, lr=3e-3, seed=1)
    config.data.layout = "presplit"
    events = _run(config, [ShortcutMonitor()])
    assert codes(events) == {"shortcut-border": PROBLEM}
    assert events[0].evidence["class"] == "framed" and events[0].evidence["flip_rate"] >= 0.5


def test_clean_short_run_raises_no_training_finding(tmp_path: Path) -> None:
    config = small_config(bars_dataset(tmp_path / "data"), tmp_path / "runs", epochs=3)
    events = _run(config, _training_monitors())
    assert codes(events) == {"initial-loss-expected": "info"}  # only the pass of item 4, naming its number
    assert events[0].evidence["verdict"] == "passed" and "against ln(2) = 0.69" in events[0].evidence["basis"]


def test_monitor_factory_follows_the_settings() -> None:
    from workbench.core.config import ProjectConfig

    names = {type(m).__name__ for m in diagnostic_monitors(ProjectConfig())}
    assert {"DataChecksMonitor", "InitialLossMonitor", "FitMonitor", "ShortcutMonitor"} <= names
    off = SimpleNamespace(diagnostics={"enabled": False}, training=SimpleNamespace(seed=0))
    assert diagnostic_monitors(off) == []


# --- static and on-demand checks -------------------------------------------------------------------


def test_output_pairing_catches_fig_4c_and_activations_before_cross_entropy() -> None:
    torch.manual_seed(0)
    x = torch.randn(4, 8)
    ok = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    assert check_output_pairing(ok, 3, "cross_entropy", x) == []
    sigmoid = nn.Sequential(nn.Linear(8, 3), nn.Sigmoid())
    assert codes(check_output_pairing(sigmoid, 3, "cross_entropy")) == {"activation-before-cross-entropy": PROBLEM}
    one_unit = nn.Sequential(nn.Linear(8, 1), nn.Sigmoid())
    found = codes(check_output_pairing(one_unit, 2, "cross_entropy", x))
    assert found["single-output-unit"] == PROBLEM
    assert codes(check_output_pairing(nn.Linear(8, 1), 5, "bce_with_logits"))["single-output-unit"] == PROBLEM

    class SoftmaxInForward(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(8, 4)

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.fc(inputs), dim=1)

    assert codes(check_output_pairing(SoftmaxInForward(), 4, "cross_entropy", x)) == {
        "activation-before-cross-entropy": WARNING}
    assert "nll-without-log-softmax" in codes(check_output_pairing(ok, 3, "nll"))
    with pytest.raises(ValueError):
        check_output_pairing(ok, 3, "hinge")


def test_lr_range_test_returns_a_curve_and_a_usable_suggestion(tmp_path: Path) -> None:
    config = small_config(bars_dataset(tmp_path / "data"), tmp_path / "runs", batch_size=16)
    prepared = prepare_data(config)
    ticks: list[int] = []
    lrs, losses, suggested = lr_range_test(config, prepared, steps=40, start=1e-5, end=10.0,
                                           progress=lambda d, t: ticks.append(d))
    assert len(lrs) == len(losses) == len(ticks) >= 10
    assert np.all(np.diff(lrs) > 0) and np.all(np.isfinite(losses))
    assert 1e-5 <= suggested <= 1.0
    finding = lr_finding(lrs, losses, suggested, config.training.lr)
    assert apply_patch(config, finding.patch).training.lr == pytest.approx(float(f"{suggested:.2g}"))
    stopped = lr_range_test(config, prepared, steps=40, should_stop=lambda: True)
    assert len(stopped[0]) == 0


def test_dead_relu_units_are_counted_and_reported(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    with torch.no_grad():
        model[0].bias.fill_(-100.0)  # every unit stays negative: dead
    x = torch.randn(32, 4)
    assert dead_unit_shares(model, x) == {"1[6]": (6, 6)}
    config = small_config(tmp_path, tmp_path)
    context, emit = _fake_context(config, 2)
    context.model = model
    context.val_source = SimpleNamespace(indices=np.arange(32), load=lambda idx, augment: (x[idx], None))
    monitor = DeadUnitMonitor()
    monitor.setup(context)
    monitor.on_epoch_end(1, {})
    monitor.on_epoch_end(2, {})
    assert codes(emit.events) == {"dead-relu-units": PROBLEM}
    assert len(emit.events) == 1  # once per run


def test_the_dead_unit_check_keeps_to_its_time_budget(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 2))
    x = torch.randn(128, 4)
    config = small_config(tmp_path, tmp_path, epochs=6)
    context, _ = _fake_context(config, 2)
    context.model = model
    context.val_source = SimpleNamespace(indices=np.arange(128), load=lambda idx, augment: (x[idx], None))
    frugal = DeadUnitMonitor(budget=0.0)  # no time to spare: only the first and the last epoch
    frugal.setup(context)
    for epoch in range(1, 7):
        frugal.on_epoch_end(epoch, {})
    assert frugal.checked == [1, 6]
    generous = DeadUnitMonitor(budget=1.0)  # its own cost is far below the time between epochs
    generous.setup(context)
    for epoch in range(1, 7):
        time.sleep(0.02)  # an epoch's training
        generous.on_epoch_end(epoch, {})
    assert generous.checked == [1, 2, 3, 4, 5, 6]


def test_exploding_and_vanishing_gradients(tmp_path: Path) -> None:
    config = small_config(tmp_path, tmp_path)
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    context, emit = _fake_context(config, 2)
    context.model = model
    monitor = GradientMonitor()
    monitor.setup(context)
    for step in range(1, 16):
        for p in model.parameters():
            p.grad = torch.full_like(p, 1e4 if step == 15 else 0.01)
        monitor.on_step(step, 1, 0.5, None, None, None)
    assert codes(emit.events) == {"exploding-gradients": PROBLEM}

    context, emit = _fake_context(config, 2)
    context.model = model
    monitor = GradientMonitor()
    monitor.setup(context)
    for step in range(1, 31):
        model[0].weight.grad = torch.full_like(model[0].weight, 1e-9)
        model[1].weight.grad = torch.full_like(model[1].weight, 1e-2)
        monitor.on_step(step, 1, 0.5, None, None, None)
    assert codes(emit.events) == {"vanishing-gradients": WARNING}


# --- rules on synthetic curves ---------------------------------------------------------------------


def _feed_epochs(monitor, train_losses, val_losses):
    for epoch, (t, v) in enumerate(zip(train_losses, val_losses, strict=True), start=1):
        monitor.on_epoch_end(epoch, {"train_loss": t, "val_loss": v, "train_accuracy": 0.5})


def test_overfitting_reports_the_epoch_it_began(tmp_path: Path) -> None:
    config = small_config(tmp_path, tmp_path)
    context, emit = _fake_context(config)
    monitor = FitMonitor()
    monitor.setup(context)
    _feed_epochs(monitor, [2.0, 1.2, 0.8, 0.5, 0.3, 0.2], [2.0, 1.3, 1.0, 1.1, 1.3, 1.6])
    assert codes(emit.events) == {"overfitting": WARNING}
    evidence = emit.events[0].evidence
    assert evidence["began_epoch"] == 4 and evidence["best_epoch"] == 3
    assert evidence["patch"] == {"training.early_stopping_patience": 3}


def test_underfitting_and_healthy_curves(tmp_path: Path) -> None:
    config = small_config(tmp_path, tmp_path)
    context, emit = _fake_context(config)
    monitor = FitMonitor()
    monitor.setup(context)
    _feed_epochs(monitor, [2.2, 1.9, 1.8, 1.79, 1.78], [2.2, 1.95, 1.85, 1.84, 1.84])
    assert codes(emit.events) == {"underfitting": WARNING}
    context, emit = _fake_context(config)
    healthy = FitMonitor()
    healthy.setup(context)
    _feed_epochs(healthy, [2.0, 1.0, 0.5, 0.3, 0.2, 0.15], [2.0, 1.1, 0.6, 0.45, 0.4, 0.39])
    healthy.on_run_end("completed")
    assert emit.events == []


def test_loss_trend_divergence_and_no_progress(tmp_path: Path) -> None:
    config = small_config(tmp_path, tmp_path, lr=0.5)
    context, emit = _fake_context(config)
    monitor = LossTrendMonitor()
    monitor.setup(context)
    for step, loss in enumerate([2.3] * 10 + [2.0, 1.8, 1.7] + [3.0 + 2 * i for i in range(20)], start=1):
        monitor.on_step(step, 1, loss, None, None, None)
    assert codes(emit.events) == {"loss-diverging": PROBLEM}
    assert emit.events[0].evidence["patch"] == {"training.lr": 0.05}

    context, emit = _fake_context(config)
    flat = LossTrendMonitor()
    flat.setup(context)
    for epoch, loss in enumerate([2.30, 2.29, 2.30], start=1):
        flat.on_epoch_end(epoch, {"train_loss": loss})
    assert codes(emit.events) == {"loss-not-decreasing": WARNING}


def test_initial_loss_rules(tmp_path: Path) -> None:
    config = small_config(tmp_path, tmp_path)
    passed = {"initial-loss-expected": "info"}  # a pass, naming the loss against ln(C)
    for losses, expected in (([2.3, 2.25, 2.31], passed), ([40.0, 35.0, 38.0], {"initial-loss-high": PROBLEM}),
                             ([0.01, 0.0, 0.0], {"initial-loss-low": WARNING}),
                             ([2.3, 900.0, 4000.0], passed)):  # runaway after the first step: divergence, not init
        context, emit = _fake_context(config)
        monitor = InitialLossMonitor(batches=3)
        monitor.setup(context)
        for step, loss in enumerate(losses, start=1):
            monitor.on_step(step, 1, loss, None, None, None)
        assert codes(emit.events) == expected, losses
        if expected is passed:
            assert emit.events[0].evidence["basis"].endswith("against ln(10) = 2.30 for a uniform guess "
                                                            "(allowed 0.23–5.11)")


def test_a_failing_diagnostic_never_breaks_training(tmp_path: Path) -> None:
    from workbench.core.diagnostics.monitor_base import FindingMonitor

    class Broken(FindingMonitor):
        def on_epoch_end(self, epoch, record) -> None:
            raise RuntimeError("boom")

    monitor = Broken()
    config = small_config(bars_dataset(tmp_path / "data", per_class=20), tmp_path / "runs", epochs=2)
    callback = CollectingCallback()
    result = train(config, callback, monitors=[monitor])
    assert result.status == "completed" and monitor.broken


def test_the_range_test_trains_what_the_strategy_trains(tmp_path: Path) -> None:
    """Transfer learning freezes the source run's backbone: the test ramps only the new head; a strategy with its
    own training procedure is refused with a reason."""
    from workbench.core.diagnostics.lr_finder import find_learning_rate

    source = bars_dataset(tmp_path / "data")
    scratch = small_config(source, tmp_path / "runs", epochs=1)
    earlier = train(scratch)
    assert earlier.status == "completed", earlier.reason
    full = find_learning_rate(scratch, steps=12)
    transfer = apply_patch(scratch, {"strategy.name": "transfer", "strategy.weights": "run",
                                     "strategy.weights_path": str(earlier.run_dir)})
    head = find_learning_rate(transfer, steps=12)
    model = torch.load(earlier.run_dir / "checkpoints" / "best.pt", weights_only=True)["model"]
    total = sum(v.numel() for k, v in model.items() if v.dtype.is_floating_point and "running" not in k)
    assert full.trained_parameters == total
    assert 0 < head.trained_parameters < full.trained_parameters / 4  # the classifier only
    assert len(head.lrs) >= 3 and head.suggested > 0
    extraction = apply_patch(transfer, {"strategy.name": "feature_extraction"})
    with pytest.raises(ValueError, match="cannot suggest its rate"):
        find_learning_rate(extraction, steps=12)
