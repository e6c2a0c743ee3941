"""Baselines every score is read against: always answering the commonest class, and chance.

A model's accuracy means little alone: on a 4-class set where one class holds 57.5 % of the images,
always answering that class scores 57.5 %. The majority class is the commonest class of the training
split (what a model that learnt nothing but the priors would answer); its accuracy is that class's share
of the split being scored. Chance balanced accuracy is 1/C. A score is judged with a 95 % Wilson
interval, so a small validation set does not pass a model that only got lucky.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

Z95 = 1.959964


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion (sound at small n and near 0 or 1, unlike the normal one)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def baselines(train_labels: Sequence[int] | np.ndarray, scored_labels: Sequence[int] | np.ndarray,
              class_names: Sequence[str]) -> dict[str, Any]:
    """The majority-class and chance baselines of a scored split, as plain values."""
    num_classes = max(len(class_names), 1)
    train = np.asarray(train_labels, dtype=np.int64)
    scored = np.asarray(scored_labels, dtype=np.int64)
    counts = np.bincount(train if len(train) else scored, minlength=num_classes)
    majority = int(np.argmax(counts)) if counts.sum() else 0
    share = float(np.mean(scored == majority)) if len(scored) else math.nan
    return {"majority_class": str(class_names[majority]) if len(class_names) else str(majority),
            "majority_accuracy": share, "majority_balanced_accuracy": 1.0 / num_classes,
            "chance_accuracy": 1.0 / num_classes, "chance_balanced_accuracy": 1.0 / num_classes,
            "images": len(scored)}


def baseline_line(base: dict[str, Any], accuracy: float | None = None) -> str:
    """One line for the CLI and the panes, e.g. "baseline: always "cat" 0.575 accuracy; chance 0.250 balanced"."""
    text = (f"baseline: always answering \"{base['majority_class']}\" scores {base['majority_accuracy']:.3f} accuracy; "
            f"chance balanced accuracy {base['chance_balanced_accuracy']:.3f}")
    if accuracy is not None and math.isfinite(accuracy) and base.get("images"):
        lo, hi = wilson_interval(round(accuracy * base["images"]), int(base["images"]))
        verdict = "above" if lo > base["majority_accuracy"] else "NOT clearly above"
        text += f" (accuracy {accuracy:.3f}, 95% CI {lo:.3f}-{hi:.3f}: {verdict} the majority baseline)"
    return text
