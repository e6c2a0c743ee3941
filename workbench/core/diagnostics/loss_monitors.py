"""Training checks on the loss: the first losses against ln(C), divergence, no progress, under- and overfitting.

Paper, checklist item 4: the cross-entropy of a random guess over C classes is ln(C) (2.30 for ten), so the
first losses should be near it; the curve should then fall fairly smoothly towards zero. Section II-D: a curve
that settles far from zero means underfitting; a validation loss that rises while the training loss falls
means overfitting.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from workbench.core.diagnostics.findings import PROBLEM, WARNING, Finding, passed_finding
from workbench.core.diagnostics.monitor_base import FindingMonitor
from workbench.core.fixes import lr_from_finder
from workbench.core.training.monitors import MonitorContext


class InitialLossMonitor(FindingMonitor):
    """Mean loss of the first few batches against ln(C)."""

    def __init__(self, batches: int = 5) -> None:
        super().__init__()
        self.batches = batches
        self.losses: list[float] = []
        self.active = True

    def setup(self, context: MonitorContext) -> None:
        super().setup(context)
        self.losses, self.active = [], True

    def on_step(self, step: int, epoch: int, loss: float, x: torch.Tensor, y: torch.Tensor, logits: torch.Tensor) -> None:
        if not self.active:
            return
        if not self.losses and step > 1:  # a resumed run: its first losses are not initial ones
            self.active = False
            return
        self.losses.append(loss)
        if len(self.losses) >= self.batches:
            self.active = False
            self._judge()

    def _judge(self) -> None:
        assert self.context is not None
        first = self.losses[0]
        # Once the loss runs away within a few steps, only the first batch (before any update) is initial;
        # the divergence itself is the loss-trend check's finding.
        diverged = any(v > 3 * first + 1 for v in self.losses[1:])
        mean = first if diverged else float(np.mean(self.losses))
        expected = self.expected_loss
        evidence = {"first_losses": [round(v, 4) for v in self.losses], "mean": round(mean, 4),
                    "expected": round(expected, 4), "num_classes": self.num_classes}
        stats = self.context.data.stats
        raw = stats.mode == "none" and stats.value_scale > 1
        if mean > 2 * expected + 0.5:
            causes = []
            patch: dict[str, Any] = {}
            if raw:
                causes.append("the input is not normalised (raw pixel values)")
                patch["preprocessing.normalization"] = "zscore"
            causes += ["the initial weights are too large", "the outputs and the loss do not fit the targets"]
            self.raise_finding(Finding(
                "initial-loss-high", PROBLEM if mean > 5 * expected else WARNING,
                f"The first losses ({mean:.2f}) are far above ln(C) = {expected:.2f}",
                f"An untrained classifier over {self.num_classes} classes should start near the loss of a uniform guess, "
                f"-ln(1/{self.num_classes}) = {expected:.2f}; the first {len(self.losses)} batches averaged {mean:.2f}. "
                f"Likely causes: {'; '.join(causes)} (paper, checklist item 4).",
                "Normalise the input (z-score), and check the output layer against the loss."
                if raw else "Check the normalisation and the output layer; lower the learning rate if it does not settle.",
                evidence, pane="train", patch=patch, paper_item="II-A.4",
            ))
        elif mean < 0.1 * expected:
            self.raise_finding(Finding(
                "initial-loss-low", WARNING, f"The first losses ({mean:.3f}) are suspiciously low",
                f"An untrained classifier should start near ln(C) = {expected:.2f}, but the first batches averaged "
                f"{mean:.3f}. The loss may not see the targets correctly (e.g. one output unit with a categorical loss, "
                "paper Fig. 4c), or the labels leak into the input.",
                "Check the output layer and loss pairing, and that the labels are not visible in the images.",
                evidence, pane="train", paper_item="II-A.4",
            ))
        else:
            shown = "first batch's loss" if diverged else f"first {len(self.losses)} batches' loss"
            self.raise_finding(passed_finding(
                "initial-loss-expected", "The first losses are near ln(C)",
                f"{shown} {mean:.2f} against ln({self.num_classes}) = {expected:.2f} for a uniform guess "
                f"(allowed {0.1 * expected:.2f}–{2 * expected + 0.5:.2f})", evidence, "train", "II-A.4"))


class LossTrendMonitor(FindingMonitor):
    """A training loss that explodes or climbs steadily, or that does not decrease over the first epochs."""

    def __init__(self, smoothing: float = 0.1, warmup_steps: int = 10, judge_epoch: int = 3) -> None:
        super().__init__()
        self.smoothing = smoothing
        self.warmup_steps = warmup_steps
        self.judge_epoch = judge_epoch
        self._reset()

    def _reset(self) -> None:
        self.ema: float | None = None
        self.min_ema = math.inf
        self.steps = 0
        self.epoch_losses: list[float] = []

    def setup(self, context: MonitorContext) -> None:
        super().setup(context)
        self._reset()

    def extra_state(self) -> dict[str, Any]:
        return {"ema": self.ema, "min_ema": self.min_ema if math.isfinite(self.min_ema) else None,
                "steps": self.steps, "epoch_losses": list(self.epoch_losses)}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.ema = state.get("ema")
        self.min_ema = math.inf if state.get("min_ema") is None else float(state["min_ema"])
        self.steps = int(state.get("steps", 0))
        self.epoch_losses = [float(v) for v in state.get("epoch_losses", [])]

    def _lr_patch(self) -> dict[str, Any]:
        assert self.context is not None
        lr = self.context.config.training.lr
        return {"training.lr": float(f"{lr / 10:.3g}")}

    def on_step(self, step: int, epoch: int, loss: float, x: torch.Tensor, y: torch.Tensor, logits: torch.Tensor) -> None:
        if not math.isfinite(loss):
            return  # the engine stops on non-finite losses and explains them itself
        self.steps += 1
        self.ema = loss if self.ema is None else (1 - self.smoothing) * self.ema + self.smoothing * loss
        if self.steps <= self.warmup_steps:
            self.min_ema = min(self.min_ema, self.ema)
            if loss > 50 * self.expected_loss:
                self._diverging(step, loss, "exploded")
            return
        self.min_ema = min(self.min_ema, self.ema)
        rose = self.ema > max(3 * self.min_ema, self.min_ema + self.expected_loss)
        if rose or loss > 50 * self.expected_loss:
            self._diverging(step, loss, "exploded" if loss > 50 * self.expected_loss else "rose")

    def _diverging(self, step: int, loss: float, how: str) -> None:
        assert self.context is not None
        lr = self.context.config.training.lr
        self.raise_finding(Finding(
            "loss-diverging", PROBLEM, "The training loss is diverging",
            f"At step {step} the loss {how} to {loss:.3g} (its smoothed minimum so far was {self.min_ema:.3g}; "
            f"ln(C) = {self.expected_loss:.2f}). The optimiser overshoots: the learning rate ({lr:g}) is likely too "
            "high, or the input is not normalised (paper, checklist item 4).",
            f"Divide the learning rate by 10 (to {lr / 10:g}), add warm-up epochs, or run the learning-rate finder.",
            {"step": step, "loss": loss, "smoothed_min": self.min_ema, "lr": lr},
            pane="train", patch=self._lr_patch(), paper_item="II-A.4",
        ))

    def on_epoch_end(self, epoch: int, record: dict[str, Any]) -> None:
        assert self.context is not None
        loss = float(record.get("train_loss", math.nan))
        if not math.isfinite(loss):
            return
        self.epoch_losses.append(loss)
        losses = self.epoch_losses
        if len(losses) >= 4 and all(b > a for a, b in zip(losses[-4:-1], losses[-3:], strict=True)) \
                and losses[-1] > 1.5 * min(losses):
            self._diverging(-1, losses[-1], "rose for three epochs")
        if len(losses) == self.judge_epoch and losses[-1] >= 0.95 * losses[0] and losses[-1] > 0.5 * self.expected_loss:
            lr = self.context.config.training.lr
            found = lr_from_finder(self.context.config)
            patch: dict[str, Any] = {}
            if found is not None:  # the rate is the finder's own suggestion: do not send the user back to it
                advice = (f"The learning rate ({lr:g}) is the learning-rate finder's suggestion, so look elsewhere: "
                          "check the normalisation and output-pairing findings, and that the labels fit the images.")
            else:
                advice = ("Run the learning-rate finder and use its suggestion; check the normalisation and "
                          "output-pairing findings.")
                if lr <= 1e-5:
                    patch = {"training.lr": float(f"{lr * 10:.3g}")}
                elif lr >= 0.01 and self.context.config.training.optimizer != "sgd":
                    patch = self._lr_patch()
            self.raise_finding(Finding(
                "loss-not-decreasing", WARNING, f"The training loss has not decreased in {len(losses)} epochs",
                f"The mean training loss went from {losses[0]:.3f} to {losses[-1]:.3f} (ln(C) = {self.expected_loss:.2f}). "
                "The network is not learning: the learning rate may be far too low or too high, the input may not be "
                "normalised, or the outputs may not fit the loss.",
                advice, {"epoch_losses": [round(v, 4) for v in losses], "lr": lr, "lr_from_finder": found is not None},
                pane="train", patch=patch, paper_item="II-A.4",
            ))


class FitMonitor(FindingMonitor):
    """Overfitting (validation loss rising while training loss falls) and underfitting (plateau far from zero).

    Both need a sustained trend, not one bad epoch: overfitting needs `patience` epochs since the best one,
    every one of them above the best by half of `rise` and the last by `rise` (relative), with the validation
    loss still trending up and the training loss down. A warm-up bump (batch norm settling) therefore does
    not raise it, and if the validation loss later reaches a new best the finding is resolved, with its
    history. Underfitting is withdrawn when the training loss starts falling again.
    """

    def __init__(self, rise: float = 0.1, patience: int = 3, plateau: float = 0.05) -> None:
        super().__init__()
        self.rise = rise
        self.patience = patience
        self.plateau = plateau
        self.history: list[dict[str, float]] = []

    def setup(self, context: MonitorContext) -> None:
        super().setup(context)
        self.history = []

    def extra_state(self) -> dict[str, Any]:
        return {"history": [dict(h) for h in self.history]}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.history = [dict(h) for h in state.get("history", [])]

    def on_epoch_end(self, epoch: int, record: dict[str, Any]) -> None:
        self.history.append({"epoch": epoch, "train_loss": float(record.get("train_loss", math.nan)),
                             "val_loss": float(record.get("val_loss", math.nan)),
                             "train_accuracy": float(record.get("train_accuracy", math.nan))})
        self._check_overfitting()
        if len(self.history) >= 5:
            self._check_underfitting()

    def on_run_end(self, status: str) -> None:
        if status in ("completed", "early_stopped") and len(self.history) >= 3:
            self._check_underfitting()

    def _check_overfitting(self) -> None:
        assert self.context is not None
        val = np.array([h["val_loss"] for h in self.history])
        train = np.array([h["train_loss"] for h in self.history])
        epochs = [int(h["epoch"]) for h in self.history]
        if len(val) < 3 or not np.isfinite(val).all():
            return
        best, last = int(np.argmin(val)), len(val) - 1
        if self.is_open("overfitting"):
            evidence = self.raised["overfitting"].evidence
            if best == last and val[last] < evidence["best_val_loss"]:
                self.resolve_finding("overfitting", epochs[last], (
                    f"overfitting from epoch {evidence['began_epoch']} to {epochs[last - 1]}; the validation loss fell "
                    f"to a new best ({val[last]:.3f}, below {evidence['best_val_loss']:.3f} of epoch "
                    f"{evidence['best_epoch']}) at epoch {epochs[last]}"))
            elif val[last] > evidence["last_val_loss"] * (1 + self.rise):
                self.update_finding("overfitting", epochs[last], f"the validation loss rose further, to {val[last]:.3f}",
                                    evidence={**evidence, "last_val_loss": round(float(val[last]), 4),
                                              "val_losses": [round(float(v), 4) for v in val]})
            return
        if last - best < self.patience:
            return
        since = val[best + 1:]
        sustained = bool((since > val[best] * (1 + self.rise / 2)).all())  # every epoch, not one bump
        risen = val[last] > val[best] * (1 + self.rise) + 0.01
        trend = float(np.polyfit(np.arange(len(val) - best), val[best:], 1)[0])  # still going up
        if not (sustained and risen and trend > 0 and train[last] < train[best]):
            return
        began, best_epoch = epochs[best + 1], epochs[best]
        tcfg = self.context.config.training
        patch = {} if tcfg.early_stopping_patience else {"training.early_stopping_patience": 3}
        gap = [round(float(v - t), 4) for v, t in zip(val, train, strict=True)]
        self.raise_finding(Finding(
            "overfitting", WARNING, f"Overfitting since epoch {began}",
            f"The validation loss was lowest at epoch {best_epoch} ({val[best]:.3f}) and has stayed above it for "
            f"{last - best} epochs, rising to {val[last]:.3f} (+{val[last] / val[best] - 1:.0%}), while the training "
            f"loss kept falling ({train[best]:.3f} → {train[last]:.3f}). The network is memorising the training "
            "images rather than learning what generalises (paper, section II-D).",
            f"Use the best epoch ({best_epoch}; its checkpoint is kept as best.pt), turn on early stopping, and add "
            "augmentation, regularisation or data, or use a smaller model.",
            {"began_epoch": began, "best_epoch": best_epoch, "best_val_loss": round(float(val[best]), 4),
             "last_val_loss": round(float(val[last]), 4), "relative_rise": round(float(val[last] / val[best] - 1), 4),
             "patience": self.patience, "val_losses": [round(float(v), 4) for v in val],
             "train_losses": [round(float(t), 4) for t in train], "gap": gap, "restore_checkpoint": "best.pt"},
            pane="train", patch=patch, paper_item="II-D",
        ), epochs[last])

    def _check_underfitting(self) -> None:
        assert self.context is not None
        train = [h["train_loss"] for h in self.history[-3:]]
        accuracy = self.history[-1]["train_accuracy"]
        epoch = int(self.history[-1]["epoch"])
        if not all(math.isfinite(v) for v in train):
            return
        learnt = math.isfinite(accuracy) and accuracy >= 0.9
        if self.is_open("underfitting"):
            level = self.raised["underfitting"].evidence["plateau_loss"]
            if train[-1] < (1 - 4 * self.plateau) * level or learnt:
                self.withdraw_finding("underfitting", epoch, (
                    f"the training loss fell again, to {train[-1]:.3f} from the plateau at {level:.3f} "
                    f"(training accuracy {accuracy:.2f})"))
            return
        plateau = (max(train) - min(train)) <= self.plateau * max(train)
        far = train[-1] > 0.35 * self.expected_loss and not learnt
        if not (plateau and far):
            return
        cfg = self.context.config
        patch: dict[str, Any] = {}
        if cfg.model.architecture == "small_cnn" and cfg.model.small_cnn.width < 256:
            patch = {"model.small_cnn.width": min(512, cfg.model.small_cnn.width * 2)}
        self.raise_finding(Finding(
            "underfitting", WARNING, f"The training loss levels off far from zero ({train[-1]:.2f})",
            f"Over the last {len(train)} epochs the training loss stayed near {train[-1]:.3f}, changing by at most "
            f"{(max(train) - min(train)) / max(train):.1%} (ln(C) = {self.expected_loss:.2f}; training accuracy "
            f"{accuracy:.2f}). A loss that converges far from zero means the model and training procedure do not fit "
            "the task (paper, section II-D).",
            "Try a larger model, a higher or scheduled learning rate, or fewer regularisers (dropout, weight decay); "
            "check the label-error findings too, as wrong labels keep the loss high.",
            {"recent_train_losses": [round(v, 4) for v in train], "plateau_loss": round(train[-1], 4),
             "train_accuracy": accuracy, "expected_initial": round(self.expected_loss, 4)},
            pane="train", patch=patch, paper_item="II-D",
        ), epoch)
