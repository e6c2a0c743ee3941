"""Classification metrics computed with scikit-learn, as plain JSON-ready values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int], class_names: Sequence[str]) -> dict[str, Any]:
    """Accuracy, balanced accuracy, macro and weighted F1, per-class P/R/F1/support and the confusion matrix."""
    labels = list(range(len(class_names)))
    y_true_arr, y_pred_arr = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true_arr) == 0:
        return {"accuracy": float("nan"), "balanced_accuracy": float("nan"), "macro_f1": float("nan"),
                "weighted_f1": float("nan"), "per_class": {}, "confusion_matrix": [], "support": 0}
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true_arr, y_pred_arr, labels=labels, zero_division=0
    )
    present = [c for c in labels if c in set(y_true_arr.tolist())]
    return {
        "accuracy": float(accuracy_score(y_true_arr, y_pred_arr)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true_arr, y_pred_arr)) if present else float("nan"),
        "macro_f1": float(f1_score(y_true_arr, y_pred_arr, labels=present, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true_arr, y_pred_arr, labels=labels, average="weighted", zero_division=0)),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(class_names)
        },
        "confusion_matrix": confusion_matrix(y_true_arr, y_pred_arr, labels=labels).tolist(),
        "support": len(y_true_arr),
    }
