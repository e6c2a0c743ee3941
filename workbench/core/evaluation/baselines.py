"""What a model must beat: always predicting the commonest class, and guessing uniformly (chance, 1/C).

On imbalanced data plain accuracy flatters: a model that always says "normal" scores the share of
normal images. The report puts these figures beside every score, computed from the evaluated split.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def baselines(class_names: Sequence[str], counts: Sequence[int]) -> dict[str, Any]:
    """Accuracy and balanced accuracy of the majority-class rule, and chance, for a split with `counts`."""
    total = int(sum(counts))
    classes = len(counts)
    if total <= 0 or classes == 0:
        return {}
    commonest = max(range(classes), key=lambda i: counts[i])
    return {
        "classes": classes,
        "images": total,
        "chance": 1.0 / classes,
        "majority_class": str(class_names[commonest]) if commonest < len(class_names) else str(commonest),
        "majority_accuracy": counts[commonest] / total,
        "majority_balanced_accuracy": 1.0 / classes,  # right on one class, wrong on every other
    }


def baselines_of_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The baselines of an evaluation, from the support of each class in its per-class table."""
    per_class = metrics.get("per_class") or {}
    names = list(per_class)
    return baselines(names, [int(per_class[n].get("support", 0) or 0) for n in names])
