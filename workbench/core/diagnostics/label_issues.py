"""Checklist item 3 (data quality): images whose label is probably wrong, found with cleanlab.

cleanlab's confident learning needs out-of-sample class probabilities: predictions for each image from a
model that did not train on it. Three sources, from quickest to best:
- before any training, a linear model on the pixels, cross-validated here (used only when it predicts the
  labels well enough for its disagreements to mean something);
- after a run, the network's own predictions on its validation images (`LabelIssuesMonitor` saves them to
  `diagnostics/val_probabilities.npz`);
- after a k-fold cross-validation, every fold's validation predictions together: an out-of-fold
  probability for every image of the training pool (`out_of_fold_findings`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench.core.diagnostics.context import CheckContext, grey_rows, stratified_sample
from workbench.core.diagnostics.findings import INFO, WARNING, Finding, passed_finding
from workbench.core.run_folder import RunFolder

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig
    from workbench.core.data.discovery import Sample
    from workbench.core.data.pipeline import PreparedData

WARN_SHARE = 0.03  # suspected share of labels above which the finding is a warning
# Before training, the quick pixel model judges labels only at a cross-validated balanced accuracy of 0.85 or
# more. Its confident disagreements are evidence against a label only when it rarely errs on its own: measured
# on clean sets (issue 14), models at 0.67-0.74 flagged 16-29 % of correct labels. At 0.85 it misreads at most
# ~15 % of images, mostly with low confidence, which the precision estimate below can then separate from
# wrong labels. Below it, the labels are checked after training, on the network's own predictions.
MIN_PIXEL_MODEL_ACCURACY = 0.85
MIN_NETWORK_ACCURACY = 0.6  # a network below this on its validation images has not learnt enough to judge
# A class whose images the model mostly rejects (recall below this), or that it mostly gives to other classes'
# images (precision below this, over at least SINK_MIN_PREDICTIONS), is one it has not learnt: its disagreements
# there are its own confusion, not wrong labels. A 2-epoch ResNet-18 on clean digits (balanced accuracy 0.61)
# never predicted "1" or "4" and gave 399 images to "8"; it flagged 46 correct labels with 100 % expected
# precision. Real wrong labels leave both figures high: 20 % of a class flipped still leaves it 0.8 of each.
MIN_CLASS_SCORE = 0.5
SINK_MIN_PREDICTIONS = 10
# Severity from the expected precision of the flags: a warning at 0.8 or more, a note from 0.5, nothing below.
WARN_PRECISION, NOTE_PRECISION = 0.8, 0.5
SHOWN = 200  # suspects listed in the evidence (the GUI shows the first few as thumbnails)
PROBS_FILE = "val_probabilities.npz"  # in a run's diagnostics folder: dataset rows and their class probabilities


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
    predicted = pred_probs.argmax(axis=1)
    unlearnt = unlearnt_classes(labels, pred_probs)
    set_aside = int(sum(int(labels[i]) in unlearnt or int(predicted[i]) in unlearnt for i in ranked.tolist()))
    ranked = np.asarray([i for i in ranked.tolist()
                         if int(labels[i]) not in unlearnt and int(predicted[i]) not in unlearnt], dtype=np.int64)
    if len(ranked) == 0:
        return []
    precision = expected_precision(labels, pred_probs, ranked)
    if precision < NOTE_PRECISION:
        return []  # the flags look like the model's own errors, not wrong labels: no evidence to show
    expected_wrong = precision * len(ranked)
    share = len(ranked) / len(labels)
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
    severity = WARNING if share >= WARN_SHARE and precision >= WARN_PRECISION else INFO
    return [Finding(
        "label-issues", severity, f"{len(ranked)} image(s) may be mislabelled",
        f"Predictions from {source} disagree confidently with the given label for {len(ranked)} of {len(labels)} "
        f"images ({share:.1%}). These images look as typical of the predicted class as the images the model agrees "
        f"with, so an estimated {precision:.0%} of the flags are real label errors (expected precision). Wrong "
        "labels mislead training and evaluation; most datasets, even benchmarks, hold some (paper, checklist item 3)."
        + (f" {set_aside} further disagreement(s) were set aside: {_unlearnt_text(unlearnt, class_names)}."
           if set_aside else ""),
        "Review the listed images, most suspicious first, and correct or remove the wrong labels.",
        {"suspects": suspects, "count": len(ranked), "share": round(share, 4), "per_class": per_class,
         "images_checked": len(labels), "expected_precision": round(precision, 3),
         "estimated_wrong_labels": round(expected_wrong, 1), "set_aside": set_aside,
         "unlearnt_classes": {class_names[c]: why for c, why in unlearnt.items()}},
        pane="samples", paper_item="II-A.3",
    )]


def unlearnt_classes(labels: np.ndarray, pred_probs: np.ndarray) -> dict[int, str]:
    """The classes the model has not learnt, each with its figure: those whose images it mostly rejects (recall
    below MIN_CLASS_SCORE) and those it mostly gives to other classes' images (precision below it)."""
    labels = np.asarray(labels)
    predicted = np.asarray(pred_probs).argmax(axis=1)
    found: dict[int, str] = {}
    for c in np.unique(labels).tolist():
        recall = float(np.mean(predicted[labels == c] == c))
        if recall < MIN_CLASS_SCORE:
            found[int(c)] = f"recall {recall:.2f}"
    for c in np.unique(predicted).tolist():
        given = labels[predicted == c]
        precision = float(np.mean(given == c))
        if len(given) >= SINK_MIN_PREDICTIONS and precision < MIN_CLASS_SCORE:
            found.setdefault(int(c), f"precision {precision:.2f} over {len(given)} predictions")
    return found


def _unlearnt_text(unlearnt: dict[int, str], class_names: Sequence[str]) -> str:
    named = ", ".join(f"{class_names[c]} ({why})" for c, why in sorted(unlearnt.items()))
    return (f"the model has not learnt {'this class' if len(unlearnt) == 1 else 'these classes'}, so its "
            f"disagreements there are its own confusion, not evidence of wrong labels: {named}")


def classes_not_judged(unlearnt: dict[int, str], class_names: Sequence[str], accuracy: float) -> Finding:
    """The verdict when no label is accused but some classes could not be judged: nothing is cleared."""
    text = _unlearnt_text(unlearnt, class_names)
    return Finding(
        "label-check-inconclusive", INFO, f"The labels of {len(unlearnt)} class(es) could not be judged",
        f"No label is accused. {text[0].upper()}{text[1:]}. Nothing is said about those classes' labels; in the "
        f"others, the model's disagreements accuse no label (balanced accuracy {accuracy:.2f}).",
        "Train until the network learns every class (more epochs, a larger input or network), then look again.",
        {"unlearnt_classes": {class_names[c]: why for c, why in unlearnt.items()}, "model_balanced_accuracy": accuracy,
         "basis": f"labels not judged for {len(unlearnt)} unlearnt class(es): "
                  + "; ".join(f"{class_names[c]} {why}" for c, why in sorted(unlearnt.items()))},
        pane="samples", paper_item="II-A.3",
    )


def expected_precision(labels: np.ndarray, pred_probs: np.ndarray, flagged: np.ndarray) -> float:
    """The expected share of `flagged` images whose label really is wrong, from how typical they look.

    An image with a wrong label is an ordinary member of its true class, so the model is as sure of it as of
    the images it agrees with: about half of the wrong labels have a top probability above the agreeing
    images' median. A model's own error is an unusual, ambiguous image, which it predicts with less
    confidence; few of those clear the median. So twice the share of flags above that median estimates the
    precision (capped at 1). It needs no calibrated probabilities, unlike counting disagreements against
    the model's stated confidence, which regularised and over-confident models both distort.
    """
    predicted = pred_probs.argmax(axis=1)
    agreeing = pred_probs.max(axis=1)[predicted == labels]
    if len(flagged) == 0 or len(agreeing) < 10:
        return 0.0
    typical = float(np.median(agreeing))
    above = float(np.mean(pred_probs[np.asarray(flagged, dtype=np.int64)].max(axis=1) >= typical))
    return min(1.0, 2.0 * above)


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
    from threadpoolctl import threadpool_limits

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
    # One BLAS thread: on these small matrices more threads only wait on each other (the fit took 15x longer with
    # two OpenBLAS threads on two cores, 5.3 s against 0.36 s).
    with threadpool_limits(1, user_api="blas"):
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
            return [deferred_finding(accuracy)]  # too weak to judge; the trained network's predictions can
        source = f"a cross-validated linear model on the pixels (balanced accuracy {accuracy:.2f})"
    ctx.check_stop()
    found = label_issue_findings(prepared.labels[rows], probs, [prepared.samples[i] for i in rows],
                                 prepared.class_names, splits=[prepared.splits[i] for i in rows], source=source)
    accuracy = network_accuracy(prepared.labels[rows], probs)
    if found or accuracy < MIN_PIXEL_MODEL_ACCURACY:
        return found
    unlearnt = unlearnt_classes(prepared.labels[rows], probs)
    if unlearnt:
        return [classes_not_judged(unlearnt, prepared.class_names, accuracy)]
    return [passed_finding(  # a model this strong that flags nothing is evidence the labels agree with the images
        "labels-checked", "No label errors worth reporting",
        f"labels checked by {source}: no suspect with expected precision ≥ {NOTE_PRECISION:.2f} "
        f"among {len(rows):,} images", {"model_balanced_accuracy": accuracy, "images_checked": len(rows)},
        "samples", "II-A.3")]


def deferred_finding(accuracy: float) -> Finding:
    """The note that labels are judged after training: the pixel model was too weak to accuse any."""
    shown = f"{accuracy:.2f}" if np.isfinite(accuracy) else "not measurable"
    return Finding(
        "label-check-deferred", INFO, "Labels are checked after training",
        f"A cross-validated linear model on the pixels reached a balanced accuracy of {shown}, below the "
        f"{MIN_PIXEL_MODEL_ACCURACY:.2f} at which its disagreements are evidence of wrong labels (weaker models "
        "mostly accuse correct labels). The labels are judged at the end of a run, with the trained network's "
        "predictions on images it did not train on.", "",
        {"pixel_model_balanced_accuracy": accuracy, "threshold": MIN_PIXEL_MODEL_ACCURACY,
         "basis": f"pixel-model balanced accuracy {shown} < {MIN_PIXEL_MODEL_ACCURACY:.2f}"},
        pane="samples", paper_item="II-A.3",
    )


def network_accuracy(labels: np.ndarray, probs: np.ndarray) -> float:
    """Balanced accuracy of a network's predictions against the given labels (nan without labels): the mean recall of
    the classes present, as scikit-learn's `balanced_accuracy_score`, without importing it (a second at a run's end)."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return float("nan")
    hits = np.asarray(probs).argmax(axis=1) == labels
    return float(np.mean([hits[labels == c].mean() for c in np.unique(labels)]))


def too_weak_to_judge(accuracy: float, threshold: float = MIN_NETWORK_ACCURACY) -> Finding:
    """The note that the trained network was too weak to judge the labels: below MIN_NETWORK_ACCURACY its
    disagreements accuse no label; below MIN_PIXEL_MODEL_ACCURACY its silence clears none (a weak model that
    flags nothing has missed wrong labels as readily as it has found none)."""
    shown = f"{accuracy:.2f}" if np.isfinite(accuracy) else "not measurable"
    basis = (f"labels checked after training: the model is not strong enough to judge labels (balanced accuracy "
             f"{shown} < {threshold:.2f})")
    role = ("its confident disagreements are evidence of wrong labels" if threshold <= MIN_NETWORK_ACCURACY else
            "finding no suspect clears the labels")
    return Finding(
        "label-check-inconclusive", INFO, "The labels could not be judged",
        f"The trained network reached a balanced accuracy of {shown} on its validation images, below the "
        f"{threshold:.2f} at which {role}. Nothing is said about the labels either way.",
        "Train until the network learns the classes (more epochs, a larger input or network), then look again.",
        {"network_balanced_accuracy": accuracy, "threshold": threshold, "basis": basis},
        pane="samples", paper_item="II-A.3",
    )


def labels_look_right(labels: np.ndarray, probs: np.ndarray) -> Finding:
    """The pass of the after-training label check: a network strong enough to judge found nothing to report."""

    accuracy = network_accuracy(labels, probs)
    return passed_finding(
        "labels-checked", "The trained network finds no label errors worth reporting",
        f"labels checked after training: the network (balanced accuracy {accuracy:.2f} ≥ {MIN_PIXEL_MODEL_ACCURACY:.2f}) "
        f"raises no suspect with expected precision ≥ {NOTE_PRECISION:.2f} among {len(labels):,} validation images",
        {"network_balanced_accuracy": accuracy, "images_checked": len(labels)}, "samples", "II-A.3")


def after_training_findings(labels: np.ndarray, probs: np.ndarray, samples: Sequence[Sample],
                            class_names: Sequence[str], splits: Sequence[str]) -> list[Finding]:
    """The label check on a trained network's validation predictions, always with a verdict that names its number:
    the suspects; or, found none, a pass from a network at MIN_PIXEL_MODEL_ACCURACY or more; or the note that
    the network is not strong enough to judge (below MIN_NETWORK_ACCURACY to accuse, MIN_PIXEL_MODEL_ACCURACY
    to clear: a weak model that flags nothing has missed wrong labels as readily as it has found none)."""
    accuracy = network_accuracy(labels, probs)
    if not judges_labels(labels, probs):  # an undertrained network would accuse good labels
        return [too_weak_to_judge(accuracy)]
    found = label_issue_findings(labels, probs, samples, class_names, splits=splits,
                                 source="the trained network, on validation images it did not train on")
    if found:
        return found
    unlearnt = unlearnt_classes(labels, probs)
    if unlearnt:
        return [classes_not_judged(unlearnt, class_names, accuracy)]
    return [labels_look_right(labels, probs) if accuracy >= MIN_PIXEL_MODEL_ACCURACY
            else too_weak_to_judge(accuracy, MIN_PIXEL_MODEL_ACCURACY)]


def judges_labels(labels: np.ndarray, probs: np.ndarray) -> bool:
    """Whether a network's predictions are good enough (balanced accuracy) for its disagreements to mean something.

    Balanced accuracy against the given labels is itself lowered by wrong labels (a perfect model scores ~0.8
    against 20 % flipped ones), so the bar here is low; `expected_precision` does the real judging."""
    return bool(network_accuracy(labels, probs) >= MIN_NETWORK_ACCURACY)


def save_out_of_sample_probs(folder: Path, rows: np.ndarray, probs: np.ndarray) -> Path:
    """Write (dataset rows, probabilities) of images the model did not train on, for later label checks."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PROBS_FILE
    np.savez_compressed(path, rows=np.asarray(rows, dtype=np.int64), probs=np.asarray(probs, dtype=np.float32))
    return path


def load_out_of_sample_probs(run_dir: str | Path) -> tuple[np.ndarray, np.ndarray] | None:
    """The (rows, probabilities) a run saved, or None when it saved none (diagnostics off, or an older run)."""
    path = Path(run_dir) / "diagnostics" / PROBS_FILE
    if not path.is_file():
        return None
    with np.load(path) as saved:
        return saved["rows"], saved["probs"]


def out_of_fold_findings(run_dirs: Sequence[str | Path]) -> list[Finding]:
    """cleanlab on the k-fold runs' validation predictions: each image scored by the fold that held it out.

    The folds share one manifest (split.csv rows in the same order, only the splits differ), so the saved
    rows of every run index the first run's manifest. A row held out by several runs keeps the first
    prediction. Needs at least two folds with saved predictions.
    """
    import json

    from workbench.core.data.splits import read_manifest

    first = Path(run_dirs[0]) if run_dirs else None
    if first is None or not RunFolder(first).split.is_file() or not RunFolder(first).classes.is_file():
        return []
    samples, _ = read_manifest(RunFolder(first).split)
    class_names = list(json.loads(RunFolder(first).classes.read_text(encoding="utf-8")))
    index = {name: i for i, name in enumerate(class_names)}
    probs_of: dict[int, np.ndarray] = {}
    fold_of: dict[int, str] = {}
    used = 0
    for fold, run_dir in enumerate(run_dirs):
        saved = load_out_of_sample_probs(run_dir)
        if saved is None:
            continue
        used += 1
        for row, prob in zip(saved[0].tolist(), saved[1], strict=True):
            if 0 <= row < len(samples) and row not in probs_of:
                probs_of[row], fold_of[row] = prob, f"fold {fold + 1}"
    rows = np.array(sorted(probs_of), dtype=np.int64)
    if used < 2 or len(rows) == 0:
        return []
    labels = np.array([index.get(samples[r].label, -1) for r in rows.tolist()])
    keep = labels >= 0
    rows, labels = rows[keep], labels[keep]
    probs = np.stack([probs_of[r] for r in rows.tolist()])
    if not judges_labels(labels, probs):
        return []
    return label_issue_findings(
        labels, probs, [samples[r] for r in rows.tolist()], class_names, splits=[fold_of[r] for r in rows.tolist()],
        source=f"the network's out-of-fold predictions ({used} cross-validation folds, each image scored by the "
               "fold that did not train on it)")
