"""Classification metrics computed with scikit-learn, as plain JSON-ready values.

Headline metrics, per-class tables and confusion matrices; one-vs-rest ROC and precision-recall curves;
calibration (expected calibration error and reliability-diagram bins); bootstrap confidence intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

HEADLINE = ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1")
MAX_CURVE_POINTS = 300  # curves are thinned so a run folder's JSON stays small


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int], class_names: Sequence[str]) -> dict[str, Any]:
    """Accuracy, balanced accuracy, macro and weighted F1, per-class P/R/F1/support and the confusion matrix.

    From the confusion matrix with numpy, as scikit-learn defines them (zero_division=0; balanced accuracy and
    macro F1 over the classes present in `y_true`): every epoch's validation calls this, and importing
    scikit-learn's metrics would add a second and more to each run's start-up. A test holds it to sklearn.
    """
    labels = len(class_names)
    y_true_arr, y_pred_arr = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if len(y_true_arr) == 0:
        return {"accuracy": float("nan"), "balanced_accuracy": float("nan"), "macro_f1": float("nan"),
                "weighted_f1": float("nan"), "per_class": {}, "confusion_matrix": [],
                "confusion_matrix_normalized": [], "support": 0}
    inside = (y_true_arr >= 0) & (y_true_arr < labels) & (y_pred_arr >= 0) & (y_pred_arr < labels)
    matrix = np.bincount(y_true_arr[inside] * labels + y_pred_arr[inside], minlength=labels * labels)
    matrix = matrix.reshape(labels, labels)
    precision, recall, f1, support = (a[0] for a in _per_class(matrix[None]))
    _, balanced, macro, weighted = _headline_from_confusion(matrix[None])[0]
    present = support > 0
    return {
        "accuracy": float(np.mean(y_true_arr == y_pred_arr)),
        "balanced_accuracy": float(balanced) if present.any() else float("nan"),
        "macro_f1": float(macro),
        "weighted_f1": float(weighted),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(class_names)
        },
        "confusion_matrix": matrix.tolist(),
        "confusion_matrix_normalized": normalize_rows(matrix).tolist(),
        "support": len(y_true_arr),
    }


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (the share of each true class predicted as each class); empty rows stay 0."""
    matrix = np.asarray(matrix, dtype=np.float64)
    sums = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, sums, out=np.zeros_like(matrix), where=sums > 0)


def _thin(*arrays: np.ndarray, limit: int = MAX_CURVE_POINTS) -> list[list[float]]:
    n = len(arrays[0])
    keep = np.unique(np.linspace(0, n - 1, limit).round().astype(int)) if n > limit else np.arange(n)
    return [np.asarray(a)[keep].astype(float).tolist() for a in arrays]


def roc_pr_curves(y_true: Sequence[int], probs: np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    """One-vs-rest ROC and precision-recall curves with their areas, per class, plus macro averages.

    A class absent from `y_true` has no curve (its AUC is undefined) and is left out of the averages.
    """
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    y = np.asarray(y_true)
    probs = np.asarray(probs, dtype=np.float64)
    per_class: dict[str, Any] = {}
    for k, name in enumerate(class_names):
        positives = y == k
        if not positives.any() or positives.all():
            continue
        fpr, tpr, _ = roc_curve(positives, probs[:, k])
        precision, recall, _ = precision_recall_curve(positives, probs[:, k])
        fpr_t, tpr_t = _thin(fpr, tpr)
        rec_t, prec_t = _thin(recall, precision)
        per_class[name] = {
            "roc_auc": float(auc(fpr, tpr)),
            "average_precision": float(average_precision_score(positives, probs[:, k])),
            "fpr": fpr_t, "tpr": tpr_t, "recall": rec_t, "precision": prec_t,
            "prevalence": float(positives.mean()),
        }
    aucs = [c["roc_auc"] for c in per_class.values()]
    aps = [c["average_precision"] for c in per_class.values()]
    return {
        "per_class": per_class,
        "macro_roc_auc": float(np.mean(aucs)) if aucs else float("nan"),
        "macro_average_precision": float(np.mean(aps)) if aps else float("nan"),
    }


def calibration(y_true: Sequence[int], probs: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Expected calibration error of the top-label confidence, and the reliability-diagram bins.

    ECE = sum over equal-width confidence bins of (bin share) × |accuracy − mean confidence|.
    """
    y = np.asarray(y_true)
    probs = np.asarray(probs, dtype=np.float64)
    if len(y) == 0:
        return {"ece": float("nan"), "mce": float("nan"), "bins": []}
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Bin i holds (edges[i], edges[i+1]]; a confidence of exactly 0 joins the first bin.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    rows, ece, mce = [], 0.0, 0.0
    for i in range(bins):
        members = which == i
        count = int(members.sum())
        row = {"lower": float(edges[i]), "upper": float(edges[i + 1]), "count": count,
               "accuracy": float("nan"), "confidence": float("nan")}
        if count:
            acc, conf = float(correct[members].mean()), float(confidence[members].mean())
            row.update(accuracy=acc, confidence=conf)
            gap = abs(acc - conf)
            ece += count / len(y) * gap
            mce = max(mce, gap)
        rows.append(row)
    return {"ece": float(ece), "mce": float(mce), "bins": rows, "mean_confidence": float(confidence.mean())}


def _per_class(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 and support per class (B×K each) of stacked confusion matrices B×K×K, 0 where a
    ratio's denominator is 0 (scikit-learn's zero_division=0)."""
    cm = cm.astype(np.float64)
    support, predicted = cm.sum(axis=2), cm.sum(axis=1)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1, support


def _headline_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Accuracy, balanced accuracy, macro F1 (over classes present) and weighted F1 from stacked matrices B×K×K."""
    _, recall, f1, true_counts = _per_class(cm)
    tp = np.diagonal(cm, axis1=1, axis2=2).astype(np.float64)
    total = true_counts.sum(axis=1)
    present = true_counts > 0
    n_present = np.maximum(present.sum(axis=1), 1)
    accuracy = tp.sum(axis=1) / np.maximum(total, 1)
    balanced = (recall * present).sum(axis=1) / n_present
    macro_f1 = (f1 * present).sum(axis=1) / n_present
    weighted_f1 = (f1 * true_counts).sum(axis=1) / np.maximum(total, 1)
    return np.stack([accuracy, balanced, macro_f1, weighted_f1], axis=1)


def bootstrap_ci(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int, samples: int = 1000,
                 seed: int = 0, level: float = 0.95) -> dict[str, dict[str, float]]:
    """Percentile bootstrap intervals of the headline metrics: resample images with replacement `samples` times.

    Vectorised through confusion matrices, so 1,000 resamples of 10,000 images take well under a second.
    """
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(y_pred, dtype=np.int64)
    n = len(y)
    point = _headline_from_confusion(np.bincount(y * num_classes + p, minlength=num_classes**2)
                                     .reshape(1, num_classes, num_classes))[0]
    result: dict[str, dict[str, float]] = {}
    if n == 0 or samples <= 0:
        return {name: {"point": float(point[i]), "low": float("nan"), "high": float("nan"), "samples": 0}
                for i, name in enumerate(HEADLINE)}
    rng = np.random.default_rng(seed)
    codes = y * num_classes + p
    values = []
    chunk = max(1, min(samples, 2_000_000 // max(n, 1)))  # bound memory: chunk × n indices at a time
    for start in range(0, samples, chunk):
        b = min(chunk, samples - start)
        draws = codes[rng.integers(0, n, size=(b, n))]
        offsets = (np.arange(b) * num_classes**2)[:, None]
        cms = np.bincount((draws + offsets).ravel(), minlength=b * num_classes**2).reshape(b, num_classes, num_classes)
        values.append(_headline_from_confusion(cms))
    stacked = np.concatenate(values)
    alpha = (1.0 - level) / 2.0
    for i, name in enumerate(HEADLINE):
        low, high = np.quantile(stacked[:, i], [alpha, 1.0 - alpha])
        result[name] = {"point": float(point[i]), "low": float(low), "high": float(high), "samples": int(samples)}
    return result


def full_metrics(y_true: Sequence[int], probs: np.ndarray, class_names: Sequence[str], *,
                 bootstrap_samples: int = 1000, seed: int = 0, calibration_bins: int = 10,
                 y_pred: Sequence[int] | None = None) -> dict[str, Any]:
    """Everything the evaluation page and the report show, from labels and predicted probabilities.

    `y_pred` overrides argmax(probs), for combination rules (majority vote) whose winner is not the argmax.
    """
    probs = np.asarray(probs, dtype=np.float64)
    pred = np.asarray(y_pred) if y_pred is not None else probs.argmax(axis=1) if len(probs) else np.zeros(0, int)
    result = classification_metrics(y_true, pred, class_names)
    if len(probs) == 0:
        return result
    result["curves"] = roc_pr_curves(y_true, probs, class_names)
    result["macro_roc_auc"] = result["curves"]["macro_roc_auc"]
    result["calibration"] = calibration(y_true, probs, calibration_bins)
    result["ece"] = result["calibration"]["ece"]
    result["confidence_intervals"] = bootstrap_ci(y_true, pred, len(class_names), bootstrap_samples, seed)
    return result


def headline(metrics: dict[str, Any]) -> dict[str, float]:
    """Just the headline numbers of a metrics dictionary (for tables and comparisons)."""
    keys = (*HEADLINE, "macro_roc_auc", "ece")
    return {k: float(metrics[k]) for k in keys if isinstance(metrics.get(k), (int, float))}
