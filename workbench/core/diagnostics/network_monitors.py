"""Training checks inside the network: output/loss pairing, dead ReLU units, exploding or vanishing gradients."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.core.diagnostics.findings import PROBLEM, WARNING, Finding
from workbench.core.diagnostics.monitor_base import FindingMonitor
from workbench.core.diagnostics.pairing import check_output_pairing
from workbench.core.models.evaluating import evaluating
from workbench.core.training.monitors import MonitorContext


def _probe_batch(context: MonitorContext, size: int) -> torch.Tensor:
    """The first `size` validation images (training images when there is no validation split), normalised."""
    source = context.val_source if len(context.val_source.indices) else context.train_source
    x, _ = source.load(source.indices[:size], augment=False)
    return x


class OutputPairingMonitor(FindingMonitor):
    """Runs the static output/loss pairing check once, on a few real images, before the first batch."""

    def __init__(self, loss_name: str = "cross_entropy") -> None:
        super().__init__()
        self.loss_name = loss_name

    def setup(self, context: MonitorContext) -> None:
        super().setup(context)
        example = _probe_batch(context, 4)
        for finding in check_output_pairing(context.model, self.num_classes, self.loss_name, example):
            self.raise_finding(finding)


def dead_unit_shares(model: nn.Module, x: torch.Tensor) -> dict[str, tuple[int, int]]:
    """(dead, total) units of every ReLU module on batch `x`: a unit is dead when it is zero everywhere."""
    shares: dict[str, tuple[int, int]] = {}
    names = {m: n for n, m in model.named_modules()}

    def hook(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        if not isinstance(output, torch.Tensor) or output.ndim < 2:
            return
        # A ReLU's output is never negative, so a unit is alive where its largest output is above zero (one
        # reduction in place, where moving the channel axis first copied every activation).
        alive = output.detach().amax(dim=[d for d in range(output.ndim) if d != 1]).gt(0)
        key = f"{names.get(module, '?')}[{output.shape[1]}]"
        dead, total = shares.get(key, (0, 0))
        # A module used twice (e.g. torchvision's ResNet blocks) counts its units once per call.
        shares[key] = (dead + int((~alive).sum()), total + int(alive.numel()))

    with evaluating(model, [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]):
        model(x)
    return shares


class DeadUnitMonitor(FindingMonitor):
    """Share of ReLU units that never activate on a validation batch, checked after the first and the last epoch
    and, in between, whenever its time so far stays within `budget` of the run's time (the live-monitor budget:
    with short epochs a check every epoch would cost several per cent of training)."""

    def __init__(self, batch: int = 128, warn_share: float = 0.4, problem_share: float = 0.8,
                 budget: float = 0.01) -> None:
        super().__init__()
        self.batch = batch
        self.warn_share = warn_share
        self.problem_share = problem_share
        self.budget = budget
        self.history: list[float] = []
        self.checked: list[int] = []  # the epochs checked

    def setup(self, context: MonitorContext) -> None:
        super().setup(context)
        self.history, self.checked = [], []
        self._x = _probe_batch(context, self.batch)
        self._started, self._spent, self._cost = time.perf_counter(), 0.0, 0.0

    def _due(self, epoch: int) -> bool:
        assert self.context is not None
        if epoch == 1 or epoch >= self.context.config.training.epochs:
            return True
        elapsed = time.perf_counter() - self._started
        return self._spent + self._cost <= self.budget * elapsed

    def on_epoch_end(self, epoch: int, record: dict[str, Any]) -> None:
        assert self.context is not None
        if not self._due(epoch):
            return
        tick = time.perf_counter()
        shares = dead_unit_shares(self.context.model, self._x)
        self._cost = time.perf_counter() - tick
        self._spent += self._cost
        self.checked.append(epoch)
        if not shares:
            return
        dead = sum(d for d, _ in shares.values())
        total = sum(t for _, t in shares.values())
        share = dead / max(total, 1)
        self.history.append(share)
        if share < self.warn_share:
            return
        cfg = self.context.config
        patch: dict[str, Any] = {}
        if cfg.model.architecture == "small_cnn" and cfg.model.small_cnn.activation == "relu":
            patch = {"model.small_cnn.activation": "swish"}
        self.raise_finding(Finding(
            "dead-relu-units", PROBLEM if share >= self.problem_share else WARNING,
            f"{share:.0%} of the ReLU units are dead",
            f"After epoch {epoch}, {dead} of {total} ReLU units output zero for every one of {len(self._x)} validation "
            "images. Dead units pass no gradient and never recover; they usually follow a too-high learning rate or "
            "a large negative bias.",
            "Lower the learning rate, or use a smooth activation (Swish, Mish) that never goes fully flat.",
            {"epoch": epoch, "dead_share": round(share, 4),
             "per_layer": {k: round(d / max(t, 1), 4) for k, (d, t) in shares.items()}},
            pane="train", patch=patch, paper_item="II-A.4",
        ))


def _grad_norms(model: nn.Module) -> tuple[float, float, float]:
    """(total, first weight layer, last weight layer) gradient norms; NaN where no gradient exists."""
    grads = [(p, p.grad) for p in model.parameters() if p.grad is not None]
    if not grads:
        return math.nan, math.nan, math.nan
    norms = torch.stack([torch.linalg.vector_norm(g.detach().float()) for _, g in grads])
    weights = [i for i, (p, _) in enumerate(grads) if p.ndim >= 2]
    first = float(norms[weights[0]]) if weights else math.nan
    last = float(norms[weights[-1]]) if weights else math.nan
    return float(torch.linalg.vector_norm(norms)), first, last


class GradientMonitor(FindingMonitor):
    """Exploding or vanishing gradient norms, sampled on the first 50 steps and every 10th after."""

    def __init__(self, explode_factor: float = 1e3, vanish_norm: float = 1e-7, vanish_ratio: float = 1e-4) -> None:
        super().__init__()
        self.explode_factor = explode_factor
        self.vanish_norm = vanish_norm
        self.vanish_ratio = vanish_ratio
        self.totals: list[float] = []
        self.ratios: list[float] = []

    def setup(self, context: MonitorContext) -> None:
        super().setup(context)
        self.totals, self.ratios, self._seen = [], [], 0

    def on_step(self, step: int, epoch: int, loss: float, x: torch.Tensor, y: torch.Tensor, logits: torch.Tensor) -> None:
        assert self.context is not None
        self._seen += 1
        if self._seen > 50 and step % 10:
            return
        total, first, last = _grad_norms(self.context.model)
        if not math.isfinite(total):
            return  # mixed precision skips overflowing steps by design; a NaN loss is the engine's to report
        lr = self.context.config.training.lr
        typical = float(np.median(self.totals)) if self.totals else math.nan
        if total > 1e6 or (len(self.totals) >= 10 and total > self.explode_factor * max(typical, 1e-12)):
            self._exploding(step, total, typical, lr)
        self.totals.append(total)
        if math.isfinite(first) and math.isfinite(last) and last > 0:
            self.ratios.append(first / last)
        if len(self.totals) == 30:
            self._check_vanishing()

    def _exploding(self, step: int, total: float, typical: float, lr: float) -> None:
        self.raise_finding(Finding(
            "exploding-gradients", PROBLEM, "The gradients are exploding",
            f"At step {step} the gradient norm reached {total:.3g} (typical so far: {typical:.3g}). Updates that large "
            "throw the weights far off and usually end in a diverging or NaN loss.",
            f"Lower the learning rate (now {lr:g}), add warm-up epochs, and check the input normalisation.",
            {"step": step, "grad_norm": total, "typical": typical, "lr": lr},
            pane="train", patch={"training.lr": float(f"{lr / 10:.3g}")}, paper_item="II-A.4",
        ))

    def _check_vanishing(self) -> None:
        assert self.context is not None
        typical = float(np.median(self.totals))
        ratio = float(np.median(self.ratios)) if self.ratios else math.nan
        if typical >= self.vanish_norm and not (math.isfinite(ratio) and ratio < self.vanish_ratio):
            return
        cfg = self.context.config
        patch: dict[str, Any] = {}
        if cfg.model.architecture == "small_cnn" and cfg.model.small_cnn.normalization == "none":
            patch = {"model.small_cnn.normalization": "batch"}
        where = (f"the first layer receives {ratio:.1e} times the gradient of the last" if math.isfinite(ratio)
                 and ratio < self.vanish_ratio else f"the typical gradient norm is only {typical:.1e}")
        self.raise_finding(Finding(
            "vanishing-gradients", WARNING, "The gradients are vanishing",
            f"Over the first {len(self.totals)} sampled steps {where}. The early layers then barely learn.",
            "Use normalisation layers (batch norm), a non-saturating activation, a shallower network, or residual "
            "connections; check that the input is normalised.",
            {"median_grad_norm": typical, "first_to_last_ratio": ratio}, pane="train", patch=patch, paper_item="II-A.4",
        ))
