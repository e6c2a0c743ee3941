"""Checklist item 3 (data quality): images whose label is probably wrong, found with cleanlab.

cleanlab's confident learning needs out-of-sample class probabilities: predictions for each image from a
model that did not train on it. They can come from a k-fold run of the network, or, as a quick first
look, from a linear model on the pixels, cross-validated here; the quick model is used only when it
predicts the labels well enough for its disagreements to mean something.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from workbench.core.diagnostics.context import CheckContext, grey_rows, stratified_sample
from workbench.core.diagnostics.findings import INFO, WARNING, Finding

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig
    from workbench.core.data.discovery import Sample
    from workbench.core.data.pipeline import PreparedData

WARN_SHARE = 0.03  # suspected share of labels above which the finding is a warning
MIN_PIXEL_MODEL_ACCURACY = 0.6  # below this, the pixel model's disagreements say more about it than the labels
SHOWN = 50


def label_issue_findings(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    samples: Sequence[Sample],
    class_names: Sequence[str],
    *,
    splits: Sequence[str] | None = None,
    source: str = "a model that did not train on them",
) -> list[Finding]:
    """A finding listing the images cleanlab suspects of wrong labels, with given and predicted labels."""
    from cleanlab.filter import find_label_issues

    labels = np.asarray(labels, dtype=np.int64)
    pred_probs = np.asarray(pred_probs, dtype=np.float64)
    if len(labels) == 0 or len(np.unique(labels)) < 2:
        return []
    pred_probs = pred_probs / np.clip(pred_probs.sum(axis=1, keepdims=True), 1e-12, None)
    ranked = find_label_issues(labels, pred_probs, return_indices_ranked_by="self_confidence", n_jobs=1)
    if len(ranked) == 0:
        return []
    share = len(ranked) / len(labels)
    predicted = pred_probs.argmax(axis=1)
    suspects = []
    per_class: dict[str, int] = {}
    for i in ranked.tolist():
        given = class_names[int(labels[i])]
        per_class[given] = per_class.get(given, 0) + 1
        if len(suspects) < SHOWN:
            suspects.append({
                "index": int(i), "path": samples[i].path, "given": given,
                "predicted": class_names[int(predicted[i])],
                "confidence_given": round(float(pred_probs[i, labels[i]]), 4),
                "confidence_predicted": round(float(pred_probs[i, predicted[i]]), 4),
                **({"split": splits[i]} if splits is not None else {}),
            })
    severity = WARNING if share >= WARN_SHARE else INFO
    return [Finding(
        "label-issues", severity, f"{len(ranked)} image(s) may be mislabelled",
        f"Predictions from {source} disagree confidently with the given label for {len(ranked)} of {len(labels)} "
        f"images ({share:.1%}). Wrong labels mislead training and evaluation; most datasets, even benchmarks, hold "
        "some (paper, checklist item 3). Lower-capacity models are more resilient to them.",
        "Review the listed images, most suspicious first, and correct or remove the wrong labels.",
        {"suspects": suspects, "count": len(ranked), "share": round(share, 4), "per_class": per_class,
         "images_checked": len(labels)},
        pane="samples", paper_item="II-A.3",
    )]


def pixel_out_of_sample_probs(
    prepared: PreparedData,
    *,
    max_images: int = 4000,
    folds: int = 5,
    seed: int = 0,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """(rows, probabilities, balanced accuracy) of a cross-validated linear model on 16×16 greyscale pixels.

    Every probability comes from a fold that did not contain the image. Classes with fewer than two images
    are left out.
    """
    import torch
    import torch.nn.functional as F
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    labels = prepared.labels
    counts = np.bincount(labels, minlength=len(prepared.class_names))
    usable = np.flatnonzero(counts[labels] >= 2)
    rng = np.random.default_rng(seed)
    per_class = max(2, max_images // max(1, int((counts >= 2).sum())))
    rows = stratified_sample(labels, per_class, rng, usable)
    if len(np.unique(labels[rows])) < 2:
        return rows, np.zeros((len(rows), len(prepared.class_names))), float("nan")
    features = []
    for start in range(0, len(rows), 512):
        if should_stop is not None and should_stop():
            raise InterruptedError("diagnostics cancelled")
        grey = grey_rows(prepared.images.array, rows[start:start + 512], prepared.images.value_scale)
        side = min(16, grey.shape[-1])
        features.append(F.adaptive_avg_pool2d(torch.from_numpy(grey)[:, None], side).flatten(1).numpy())
    x = np.concatenate(features)
    y = labels[rows]
    present = np.unique(y)
    k = int(min(folds, np.bincount(y)[present].min()))
    model = make_pipeline(StandardScaler(), PCA(min(40, x.shape[1], len(x) - len(x) // k - 1), random_state=seed),
                          LogisticRegression(C=0.5, max_iter=300))
    probs_present = cross_val_predict(model, x, y, cv=StratifiedKFold(k, shuffle=True, random_state=seed),
                                      method="predict_proba")
    probs = np.zeros((len(rows), len(prepared.class_names)))
    probs[:, present] = probs_present
    accuracy = float(balanced_accuracy_score(y, present[probs_present.argmax(axis=1)]))
    return rows, probs, accuracy


def check_label_issues(prepared: PreparedData, config: ProjectConfig, ctx: CheckContext) -> list[Finding]:
    if ctx.pred_probs is not None:
        rows = np.arange(len(prepared.labels))
        probs, source = ctx.pred_probs, "a model that did not train on them"
    else:
        rows, probs, accuracy = pixel_out_of_sample_probs(prepared, seed=ctx.seed, should_stop=ctx.should_stop)
        if not np.isfinite(accuracy) or accuracy < MIN_PIXEL_MODEL_ACCURACY:
            return []  # the quick model cannot judge these images; k-fold predictions of the network can
        source = f"a cross-validated linear model on the pixels (balanced accuracy {accuracy:.2f})"
    ctx.check_stop()
    return label_issue_findings(prepared.labels[rows], probs, [prepared.samples[i] for i in rows],
                                prepared.class_names, splits=[prepared.splits[i] for i in rows], source=source)
