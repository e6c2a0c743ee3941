"""Metrics checked against scikit-learn on known predictions; calibration and bootstrap intervals."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from workbench.core.evaluation.metrics import (
    HEADLINE,
    _headline_from_confusion,
    bootstrap_ci,
    calibration,
    classification_metrics,
    full_metrics,
    normalize_rows,
    roc_pr_curves,
)

NAMES = ["a", "b", "c", "d"]


def _known(seed: int = 0, n: int = 300, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities of a decent but imperfect classifier."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), y] += 1.5
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, probs


def test_headline_and_per_class_match_sklearn() -> None:
    y, probs = _known()
    pred = probs.argmax(1)
    m = classification_metrics(y, pred, NAMES)
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert m["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert m["weighted_f1"] == pytest.approx(f1_score(y, pred, average="weighted"))
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=range(4), zero_division=0)
    for i, name in enumerate(NAMES):
        assert m["per_class"][name] == pytest.approx({"precision": p[i], "recall": r[i], "f1": f[i], "support": s[i]})
    cm = confusion_matrix(y, pred, labels=range(4))
    assert m["confusion_matrix"] == cm.tolist()
    assert np.allclose(m["confusion_matrix_normalized"], cm / cm.sum(1, keepdims=True))


def test_row_normalisation_keeps_empty_rows_at_zero() -> None:
    out = normalize_rows(np.array([[2, 2], [0, 0]]))
    assert out.tolist() == [[0.5, 0.5], [0.0, 0.0]]


def test_roc_and_pr_areas_match_sklearn() -> None:
    y, probs = _known(1)
    curves = roc_pr_curves(y, probs, NAMES)
    for k, name in enumerate(NAMES):
        assert curves["per_class"][name]["roc_auc"] == pytest.approx(roc_auc_score(y == k, probs[:, k]))
        assert curves["per_class"][name]["average_precision"] == pytest.approx(average_precision_score(y == k, probs[:, k]))
    assert curves["macro_roc_auc"] == pytest.approx(roc_auc_score(y, probs, multi_class="ovr", average="macro"))
    first = curves["per_class"]["a"]
    assert len(first["fpr"]) == len(first["tpr"]) <= 300 and first["fpr"][0] == 0.0 and first["tpr"][-1] == 1.0


def test_absent_class_has_no_curve() -> None:
    y = np.array([0, 1, 0, 1])
    probs = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.3, 0.6, 0.1]])
    curves = roc_pr_curves(y, probs, ["x", "y", "z"])
    assert set(curves["per_class"]) == {"x", "y"}


def test_expected_calibration_error_by_hand() -> None:
    y = np.array([0, 0, 1, 1])
    # Confidences 0.9, 0.9 (one right, one wrong) and 0.6, 0.6 (both right).
    probs = np.array([[0.9, 0.1], [0.1, 0.9], [0.4, 0.6], [0.4, 0.6]])
    cal = calibration(y, probs, bins=10)
    # Bin (0.8, 0.9]: accuracy 0.5 vs 0.9 -> gap 0.4; bin (0.5, 0.6]: accuracy 1.0 vs 0.6 -> gap 0.4.
    assert cal["ece"] == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)
    assert sum(b["count"] for b in cal["bins"]) == 4
    assert cal["mce"] == pytest.approx(0.4)


def test_perfectly_calibrated_predictions_have_zero_ece() -> None:
    y = np.array([0, 1, 0, 1])
    probs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    assert calibration(y, probs)["ece"] == pytest.approx(0.0)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_vectorised_headline_matches_sklearn_even_with_a_missing_class() -> None:
    rng = np.random.default_rng(3)
    y = rng.choice([0, 1, 3], 80)  # class 2 never occurs
    pred = rng.integers(0, 4, 80)
    cm = np.bincount(y * 4 + pred, minlength=16).reshape(1, 4, 4)
    acc, bal, macro, weighted = _headline_from_confusion(cm)[0]
    present = [0, 1, 3]
    assert acc == pytest.approx(accuracy_score(y, pred))
    assert bal == pytest.approx(balanced_accuracy_score(y, pred))
    assert macro == pytest.approx(f1_score(y, pred, labels=present, average="macro", zero_division=0))
    assert weighted == pytest.approx(f1_score(y, pred, labels=range(4), average="weighted", zero_division=0))


def test_bootstrap_interval_contains_the_point_estimate() -> None:
    y, probs = _known(2)
    pred = probs.argmax(1)
    ci = bootstrap_ci(y, pred, 4, samples=500, seed=0)
    assert set(ci) == set(HEADLINE)
    for name, interval in ci.items():
        assert interval["low"] <= interval["point"] <= interval["high"], name
        assert 0 < interval["high"] - interval["low"] < 0.3
    assert ci["accuracy"]["point"] == pytest.approx(accuracy_score(y, pred))
    assert bootstrap_ci(y, pred, 4, samples=500, seed=0) == ci  # seeded: reproducible


def test_bootstrap_width_shrinks_with_more_images() -> None:
    small = bootstrap_ci(*_pred(_known(4, n=60)), 4, samples=400)
    large = bootstrap_ci(*_pred(_known(4, n=2000)), 4, samples=400)
    width = lambda c: c["accuracy"]["high"] - c["accuracy"]["low"]  # noqa: E731
    assert width(large) < width(small)


def _pred(known: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    y, probs = known
    return y, probs.argmax(1)


def test_full_metrics_has_every_part() -> None:
    y, probs = _known(5)
    m = full_metrics(y, probs, NAMES, bootstrap_samples=100)
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "per_class", "confusion_matrix",
                "confusion_matrix_normalized", "curves", "macro_roc_auc", "calibration", "ece", "confidence_intervals"):
        assert key in m, key
    empty = full_metrics([], np.zeros((0, 4)), NAMES)
    assert empty["support"] == 0


@pytest.mark.parametrize("seed", range(6))
def test_epoch_metrics_match_sklearn_with_missing_and_never_predicted_classes(seed: int) -> None:
    """classification_metrics counts with numpy (no scikit-learn import per run); it must agree with sklearn
    where classes are missing from the truth, never predicted, or both."""
    rng = np.random.default_rng(seed)
    k = 5
    y = rng.choice([0, 1, 3], 60) if seed % 2 else rng.integers(0, k, 60)
    pred = np.where(rng.random(60) < 0.6, y, rng.choice([0, 2, 4], 60))
    m = classification_metrics(y, pred, [f"c{i}" for i in range(k)])
    present = sorted(set(y.tolist()))
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    with warnings.catch_warnings():  # sklearn warns of classes predicted but absent from the truth
        warnings.simplefilter("ignore")
        assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert m["macro_f1"] == pytest.approx(f1_score(y, pred, labels=present, average="macro", zero_division=0))
    assert m["weighted_f1"] == pytest.approx(f1_score(y, pred, labels=range(k), average="weighted", zero_division=0))
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=range(k), zero_division=0)
    for i in range(k):
        assert m["per_class"][f"c{i}"] == pytest.approx({"precision": p[i], "recall": r[i], "f1": f[i],
                                                         "support": s[i]})
    assert m["confusion_matrix"] == confusion_matrix(y, pred, labels=range(k)).tolist()

