"""Comparing test-time augmentation with the plain prediction, image by image and metric by metric."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.core.evaluation.inference import EvalSet, predict_set
from workbench.core.evaluation.metrics import classification_metrics, headline
from workbench.core.evaluation.tta import COMBINE_RULES, TTA_AUGMENTATIONS

if TYPE_CHECKING:
    from workbench.core.evaluation.loaded_run import LoadedRun


def compare_tta(
    run: LoadedRun,
    images: EvalSet,
    augmentations: Sequence[str],
    rule: str = "mean",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Plain and TTA metrics side by side, how many predictions TTA fixed or broke, and each view's accuracy."""
    if not augmentations:
        raise ValueError("choose at least one test-time augmentation (for example hflip or shift)")
    out = predict_set(run, images, tta=augmentations, rule=rule, keep_views=True, progress=progress)
    labels = images.labels
    plain_pred = out["view_probs"][0].argmax(axis=1) if len(labels) else np.zeros(0, np.int64)
    tta_pred = out["pred"]
    plain = classification_metrics(labels, plain_pred, run.class_names)
    tta = classification_metrics(labels, tta_pred, run.class_names)
    per_view = {
        name: float(np.mean(out["view_probs"][i].argmax(axis=1) == labels)) if len(labels) else float("nan")
        for i, name in enumerate(out["view_names"])
    }
    keys = ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1")
    return {
        "augmentations": list(augmentations),
        "augmentation_labels": [TTA_AUGMENTATIONS[a].label for a in augmentations],
        "rule": rule,
        "rule_label": COMBINE_RULES[rule].description,
        "views": len(out["view_names"]),
        "split": images.name,
        "images": len(labels),
        "plain": headline(plain),
        "tta": headline(tta),
        "difference": {k: tta[k] - plain[k] for k in keys},
        "fixed": int(np.sum((plain_pred != labels) & (tta_pred == labels))),
        "broken": int(np.sum((plain_pred == labels) & (tta_pred != labels))),
        "changed": int(np.sum(plain_pred != tta_pred)),
        "per_view_accuracy": per_view,
        "probs": out["probs"],  # removed before saving; kept for callers that want the TTA probabilities
    }
