"""The best validation score against the majority-class baseline (issue 14: "no baseline").

On a 4-class set where one class holds 57.5 % of the images, a model at 57.3 % has learnt nothing
useful. At the end of a run the best epoch's validation accuracy is judged with its 95 % Wilson interval:
when the interval's lower end is not above the share of the commonest training class in the validation
split, the score is no evidence of learning, and a warning says so with both numbers.
"""

from __future__ import annotations

import math
from typing import Any

from workbench.core.diagnostics.findings import WARNING, Finding
from workbench.core.diagnostics.monitor_base import FindingMonitor
from workbench.core.evaluation.baselines import baselines, wilson_interval
from workbench.core.training.monitors import MonitorContext

FINISHED = ("completed", "early_stopped")


class BaselineMonitor(FindingMonitor):
    """Tracks the best validation accuracy; at the end compares it with always answering the commonest class."""

    def __init__(self) -> None:
        super().__init__()
        self.best: dict[str, Any] = {}
        self.base: dict[str, Any] = {}

    def setup(self, context: MonitorContext) -> None:
        super().setup(context)
        data = context.data
        self.best = {}
        self.base = baselines(data.labels[data.indices("train")], data.labels[data.indices("val")], data.class_names)

    def extra_state(self) -> dict[str, Any]:
        return {"best": dict(self.best)}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.best = dict(state.get("best") or {})

    def on_epoch_end(self, epoch: int, record: dict[str, Any]) -> None:
        metrics = record.get("metrics") or {}
        accuracy = metrics.get("accuracy", record.get("accuracy"))
        if isinstance(accuracy, (int, float)) and math.isfinite(accuracy) \
                and accuracy > self.best.get("accuracy", -1.0):
            self.best = {"epoch": epoch, "accuracy": float(accuracy),
                         "balanced_accuracy": float(metrics.get("balanced_accuracy", math.nan))}

    def on_run_end(self, status: str) -> None:
        if status in FINISHED and self.best:
            finding = baseline_finding(self.best, self.base)
            if finding is not None:
                self.raise_finding(finding, self.best.get("epoch"))


def baseline_finding(best: dict[str, Any], base: dict[str, Any]) -> Finding | None:
    """A warning when the best validation accuracy is not above the majority baseline within its 95 % interval."""
    n = int(base.get("images") or 0)
    majority = float(base.get("majority_accuracy", math.nan))
    if n == 0 or not math.isfinite(majority):
        return None
    accuracy = float(best["accuracy"])
    lo, hi = wilson_interval(round(accuracy * n), n)
    if lo > majority:
        return None
    below = accuracy <= majority
    cls = base["majority_class"]
    return Finding(
        "below-baseline", WARNING,
        f"The best validation accuracy ({accuracy:.3f}) is {'no better than' if below else 'not clearly above'} "
        f"always answering \"{cls}\" ({majority:.3f})",
        f"Always answering the commonest class, \"{cls}\", scores {majority:.3f} on the {n} validation images. The "
        f"best epoch ({best.get('epoch')}) scored {accuracy:.3f} (95% interval {lo:.3f}-{hi:.3f}), so the model has "
        f"not shown that it learnt more than the class priors. Balanced accuracy {best.get('balanced_accuracy', math.nan):.3f} "
        f"against chance {base['chance_balanced_accuracy']:.3f}.",
        "Look at the other findings (learning rate, normalisation, labels, input size); judge the model by balanced "
        "accuracy on imbalanced data, and collect more validation images if the interval is wide.",
        {"best_epoch": best.get("epoch"), "best_val_accuracy": round(accuracy, 4), "ci95": [round(lo, 4), round(hi, 4)],
         "majority_class": cls, "majority_accuracy": round(majority, 4),
         "best_val_balanced_accuracy": best.get("balanced_accuracy"),
         "chance_balanced_accuracy": round(base["chance_balanced_accuracy"], 4), "validation_images": n},
        pane="train", paper_item="II-C",
    )
