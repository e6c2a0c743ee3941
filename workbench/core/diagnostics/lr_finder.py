"""The learning-rate range test: train briefly while the rate grows exponentially, and read the loss curve.

The loss first stays flat (rate too small), then falls (useful rates), then explodes (too large). The
suggested rate is a tenth of the rate at the minimum of the smoothed loss ("min/10"), or the rate where
the smoothed loss falls fastest ("steepest"). A fresh model is built, so a running training is untouched.
`find_learning_rate` reads the project's data and runs the test: the CLI's `lr-find` and the GUI's
"Find learning rate…" both call it; `lr_curve_png` draws its curve for `lr-find --plot`.

The model is set up by the project's strategy, as the engine does: transfer learning and fine-tuning load
their source weights and freeze what they freeze, and only the parameter groups that follow
`training.lr` (the head, or everything from scratch) ramp; fine-tuned blocks keep their own rates.
Pretraining strategies are tested on the downstream model without running the pretraining.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from workbench.core.diagnostics.findings import INFO, Finding

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig
    from workbench.core.data.pipeline import PreparedData

ModelFactory = Callable[["ProjectConfig", int, int], nn.Module]


def suggest_lr(lrs: np.ndarray, smoothed: np.ndarray, rule: str = "min10") -> float:
    """The suggested rate from a range test's (rates, smoothed losses)."""
    finite = np.isfinite(smoothed)
    if finite.sum() < 3:
        return float(lrs[0])
    lrs, smoothed = lrs[finite], smoothed[finite]
    best = int(np.argmin(smoothed))
    if rule == "steepest":
        skip = max(1, len(lrs) // 10)  # the first points are mostly smoothing warm-up
        stop = max(best, skip + 2)
        slopes = np.gradient(smoothed[:stop], np.log(lrs[:stop]))
        return float(lrs[skip + int(np.argmin(slopes[skip:]))]) if stop > skip else float(lrs[best] / 10)
    if rule != "min10":
        raise ValueError(f"unknown rule {rule!r}; use 'min10' or 'steepest'")
    return float(max(lrs[best] / 10, lrs[0]))


def _strategy_model(config: ProjectConfig, prepared: PreparedData, device: torch.device, work_dir: Path
                     ) -> tuple[nn.Module, list[dict[str, Any]]]:
    """The model and optimizer groups of the strategy's first epoch; each group notes whether it follows training.lr."""
    from workbench.core.models.factory import build_model
    from workbench.core.strategies import STRATEGIES, load_strategy
    from workbench.core.strategies.base import StrategyContext
    from workbench.core.training.control import RunControl

    strategy = load_strategy(config.strategy.name)
    if strategy.replaces_training():
        raise ValueError(f"the {STRATEGIES[config.strategy.name].label} strategy trains by its own procedure, not the "
                         "cross-entropy loop this test imitates, so the test cannot suggest its rate")
    context = StrategyContext(config, prepared, device, work_dir, lambda _event: None, RunControl())
    model = strategy.build_model(context) or build_model(config, prepared.in_channels, len(prepared.class_names))
    strategy.prepare_model(model, context, False)
    plan = getattr(strategy, "plan", None)
    if plan is not None and hasattr(plan, "apply"):  # the blocks that train in the first epoch
        plan.apply(model, 1, context)
    base = config.training.lr
    groups = []
    for group in strategy.param_groups(model, context):
        group = dict(group) if isinstance(group, dict) else {"params": [group]}
        group["follows"] = abs(float(group.get("lr", base)) - base) <= 1e-12 * max(base, 1.0)
        groups.append(group)
    merged = [g for g in groups if not g["follows"]]
    following = [p for g in groups if g["follows"] for p in g["params"]]
    if following:
        merged.insert(0, {"params": following, "follows": True})
    return model.to(device).train(), merged


def lr_range_test(
    config: ProjectConfig,
    prepared: PreparedData,
    model_factory: ModelFactory | None = None,
    steps: int = 100,
    start: float = 1e-6,
    end: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    rule: str = "min10",
    beta: float = 0.9,
    device: torch.device | str | None = None,
    report: dict[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """(learning rates, smoothed losses, suggested rate) of an exponential ramp from `start` to `end`.

    Stops early when the smoothed loss exceeds four times its minimum (the rate is then far too high)
    or when `should_stop` returns True; the arrays then hold the steps done so far. Without a
    `model_factory` the strategy sets the model up (see the module docstring). `report`, when given,
    receives the number of parameters the test trained.
    """
    from workbench.core.data.stats import NormStats
    from workbench.core.devices import select_device
    from workbench.core.training.loop import BatchSource
    from workbench.core.training.optim import build_optimizer

    if not (0 < start < end):
        raise ValueError("the range test needs 0 < start < end")
    tcfg = config.training
    dev = torch.device(device) if device is not None else torch.device(select_device(tcfg.device))
    torch.manual_seed(tcfg.seed)
    with tempfile.TemporaryDirectory(prefix="workbench-lr-") as work:
        if model_factory is not None:
            model = model_factory(config, prepared.in_channels, len(prepared.class_names)).to(dev).train()
            groups: list[dict[str, Any]] = [{"params": list(model.parameters()), "follows": True}]
        else:
            model, groups = _strategy_model(config, prepared, dev, Path(work))
    follows = [g.pop("follows") for g in groups]
    for group, ramps in zip(groups, follows, strict=True):
        if ramps:
            group["lr"] = start
    optimizer = build_optimizer(groups, tcfg.model_copy(update={"lr": start}))
    if report is not None:
        report["trained_parameters"] = sum(p.numel() for g, ramps in zip(groups, follows, strict=True) if ramps
                                           for p in g["params"] if p.requires_grad)
    stats: NormStats = prepared.stats
    source = BatchSource(prepared, prepared.indices("train"), tcfg.batch_size, dev, stats)
    loss_fn = nn.CrossEntropyLoss()
    growth = (end / start) ** (1.0 / max(1, steps - 1))
    lrs: list[float] = []
    smoothed: list[float] = []
    average, best = 0.0, math.inf
    batches: list[np.ndarray] = []
    for i in range(steps):
        if should_stop is not None and should_stop():
            break
        if not batches:
            batches = source.batches(source.epoch_order(i, tcfg.seed))
        lr = start * growth**i
        for group, ramps in zip(optimizer.param_groups, follows, strict=True):
            if ramps:
                group["lr"] = lr
        x, y = source.load(batches.pop(0), augment=False)
        loss = loss_fn(model(x), y)
        value = float(loss.detach())
        if not math.isfinite(value):
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        average = beta * average + (1 - beta) * value
        current = average / (1 - beta ** (i + 1))  # bias correction of the running mean
        lrs.append(lr)
        smoothed.append(current)
        best = min(best, current)
        if progress is not None:
            progress(i + 1, steps)
        if i > steps // 10 and current > 4 * best:
            break
    rates, losses = np.asarray(lrs), np.asarray(smoothed)
    return rates, losses, suggest_lr(rates, losses, rule) if len(rates) else start


def lr_finding(lrs: np.ndarray, losses: np.ndarray, suggested: float, current: float) -> Finding:
    """The range test's result as an info finding; its patch sets the suggested rate."""
    off = current / suggested if suggested > 0 else 1.0
    verdict = ("close to the suggestion" if 0.2 <= off <= 5 else
               f"{off:.0f}× the suggestion (likely too high)" if off > 5 else f"1/{1 / off:.0f} of the suggestion (likely too low)")
    evidence: dict[str, Any] = {"lrs": [float(v) for v in lrs], "losses": [float(v) for v in losses],
                                "suggested_lr": suggested, "current_lr": current}
    return Finding(
        "lr-range-test", INFO, f"Suggested learning rate: {suggested:.2g}",
        f"A short test over rates from {lrs[0]:.1g} to {lrs[-1]:.1g} suggests {suggested:.2g}: the loss falls well "
        f"there and has not yet started to rise. The current rate ({current:g}) is {verdict}.",
        f"Set the learning rate to {suggested:.2g}.",
        evidence, pane="train", patch={"training.lr": float(f"{suggested:.2g}")}, paper_item="IV-B",
    )


@dataclass(frozen=True, eq=False)  # eq=False: arrays do not compare to a single bool
class LRFinderResult:
    """A finished range test: the curve, the suggested rate (rounded as it will be set), the current rate, the finding."""

    lrs: np.ndarray
    losses: np.ndarray
    suggested: float
    current: float
    finding: Finding
    trained_parameters: int = 0  # what the test trained: the strategy's parameters that follow training.lr

    @property
    def patch(self) -> dict[str, Any]:
        return dict(self.finding.patch)


# Stage names shown to the user while the finder runs (data preparation reports "scan" then "decode").
STAGE_MESSAGES = {"scan": "Finding images", "decode": "Reading images", "test": "Testing rates"}
MIN_STEPS = 5


def find_learning_rate(
    config: ProjectConfig,
    steps: int = 100,
    start: float = 1e-6,
    end: float = 1.0,
    progress: Callable[[int, int, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    rule: str = "min10",
    model_factory: ModelFactory | None = None,
) -> LRFinderResult:
    """Read the project's dataset and run the range test: the one entry point of the CLI and the GUI.

    `progress(done, total, message)` names the stage ("Reading images", then "Testing rates"). Raises
    InterruptedError when `should_stop` turns true (a partial curve would mislead), DatasetError when the
    data cannot be used, and ValueError for impossible settings or a test that diverged at once.
    """
    from workbench.core.data.errors import DatasetError
    from workbench.core.data.pipeline import prepare_data

    if steps < MIN_STEPS:
        raise ValueError(f"the range test needs at least {MIN_STEPS} steps (got {steps})")
    if not (0 < start < end):
        raise ValueError(f"the range test needs 0 < start < end (got start {start:g}, end {end:g})")
    if not config.data.source.strip():
        raise DatasetError("the project has no dataset yet; choose one in the Data step (data.source)")

    def stage(name: str, done: int, total: int) -> None:
        if progress is not None:
            progress(done, total, STAGE_MESSAGES.get(name, name))

    prepared = prepare_data(config, stage_progress=stage, should_stop=should_stop)
    if len(prepared.indices("train")) == 0:
        raise DatasetError("the training split is empty; the range test needs training images")
    report: dict[str, Any] = {}
    lrs, losses, raw = lr_range_test(
        config, prepared, model_factory, steps, start, end,
        progress=lambda done, total: stage("test", done, total), should_stop=should_stop, rule=rule, report=report,
    )
    if should_stop is not None and should_stop():
        raise InterruptedError("the learning-rate range test was cancelled")
    if len(lrs) < 3:
        raise ValueError(f"the loss diverged within {len(lrs)} step(s) from {start:g}; try a smaller start rate")
    suggested = float(f"{raw:.2g}")  # the value the patch sets, so what is shown is what gets applied
    current = float(config.training.lr)
    return LRFinderResult(lrs, losses, suggested, current, lr_finding(lrs, losses, suggested, current),
                          int(report.get("trained_parameters", 0)))


def lr_curve_png(result: LRFinderResult, dpi: int = 110) -> bytes:
    """The curve as a PNG (log rate axis, the suggested and the current rate marked), drawn without pyplot."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.6))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(result.lrs, result.losses, color="#2563eb", lw=2, label="smoothed loss")
    ax.axvline(result.suggested, color="#2f9e6b", ls="--", lw=1.5, label=f"suggested {result.suggested:.2g}")
    ax.axvline(result.current, color="#d14343", ls=":", lw=1.5, label=f"current {result.current:g}")
    ax.set_xscale("log")
    ax.set(xlabel="learning rate (log scale)", ylabel="training loss (smoothed)", title="Learning-rate range test")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
