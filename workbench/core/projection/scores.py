"""How well the classes separate in feature space: cross-validated k-NN accuracy and the silhouette.

Paper, checklist item 5 and Fig. 3: a network can score above chance while its features show no class
structure; then it has not learned a useful representation. The scores put numbers on what the
projection shows, and are tracked over the epochs.
"""

from __future__ import annotations

import math

import numpy as np

from workbench.core.diagnostics.findings import INFO, WARNING, Finding
from workbench.core.evaluation.baselines import wilson_interval

# A pass needs both numbers. k-NN accuracy in feature space must beat always answering the commonest class,
# with the lower end of its 95 % interval. The silhouette must reach 0.1: at 0 the classes' clusters overlap
# as much as they separate; 0.1 is the smallest value at which an image is, on average, clearly nearer its own
# class than the next one (Rousseeuw's scale reads below 0.25 as "no substantial structure", so this is lenient).
SILHOUETTE_MIN = 0.1
PASSED = "passed"


def separability_scores(features: np.ndarray, labels: np.ndarray, *, k: int = 5, folds: int = 5,
                        max_points: int = 2000, seed: int = 0) -> dict[str, float]:
    """knn_accuracy (cross-validated), silhouette, chance (share of the commonest class) and points used.

    Both scores are computed here with numpy: they are what scikit-learn's KNeighborsClassifier (uniform weights,
    Euclidean) scored with cross_val_score, and its silhouette_score, compute (tests hold them to it), without
    importing scikit-learn, which cost more than a second at the end of every run."""
    labels = np.asarray(labels)
    x = np.nan_to_num(np.asarray(features, dtype=np.float64))
    counts = np.bincount(labels) if len(labels) else np.zeros(0, int)
    keep = counts[labels] >= 2 if len(labels) else np.zeros(0, bool)
    x, labels = x[keep], labels[keep]
    if len(labels) > max_points:
        rows = np.sort(np.random.default_rng(seed).choice(len(labels), max_points, replace=False))
        x, labels = x[rows], labels[rows]
    present = np.unique(labels)
    scores = {"knn_accuracy": math.nan, "silhouette": math.nan, "points": float(len(labels)),
              "chance": float(np.bincount(labels).max() / len(labels)) if len(labels) else math.nan}
    if len(present) < 2:
        return scores
    x = (x - x.mean(0)) / np.where(x.std(0) > 1e-12, x.std(0), 1.0)
    n_folds = int(min(folds, np.bincount(labels)[present].min()))
    if n_folds >= 2:
        k = min(k, len(labels) - len(labels) // n_folds - 1)
        scores["knn_accuracy"] = knn_accuracy(x, labels, stratified_folds(labels, n_folds, seed), k)
    scores["silhouette"] = silhouette(np.sqrt(squared_distances(x)), labels)
    return scores


def squared_distances(x: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the rows of `x`, zero on the diagonal."""
    sq = np.einsum("ij,ij->i", x, x)
    out = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    np.maximum(out, 0.0, out=out)
    np.fill_diagonal(out, 0.0)
    return out


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """The fold of each sample: each class's samples shuffled and dealt in turn, continuing where the last class
    ended, so that every fold holds every class and the folds differ in size by one at most."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    dealt = 0
    for c in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == c))
        fold[rows] = (dealt + np.arange(len(rows))) % folds
        dealt += len(rows)
    return fold


def knn_accuracy(x: np.ndarray, labels: np.ndarray, fold: np.ndarray, k: int) -> float:
    """The mean over folds of the accuracy of a k-nearest-neighbour vote (the strategies' `knn_predict`: Euclidean,
    uniform weights, a tie to the smaller label) that knows the other folds' labels."""
    import torch

    from workbench.core.strategies.common import knn_predict

    labels = np.asarray(labels)
    points, targets = torch.from_numpy(np.asarray(x, dtype=np.float64)), torch.from_numpy(labels.astype(np.int64))
    accuracies = []
    for f in np.unique(fold):
        test, train = torch.from_numpy(fold == f), torch.from_numpy(fold != f)
        predicted, _ = knn_predict(points[test], points[train], targets[train], k, int(labels.max()) + 1)
        accuracies.append(float((predicted == targets[test]).double().mean()))
    return float(np.mean(accuracies))


def silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    """The mean silhouette of the samples (Rousseeuw): (b - a) / max(a, b), with a the mean distance to the own
    class's other members, b the smallest mean distance to another class; 0 for a class of one sample."""
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    members = np.eye(len(counts))[inverse]
    sums = distances @ members  # each sample's summed distance to each class
    rows = np.arange(len(labels))
    own = counts[inverse]
    a = sums[rows, inverse] / np.maximum(own - 1, 1)
    means = sums / counts
    means[rows, inverse] = np.inf
    b = means.min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.nan_to_num((b - a) / np.maximum(a, b))
    s[own == 1] = 0.0
    return float(np.mean(s))


def structure_verdict(scores: dict[str, float], accuracy: float, history: list[dict] | None = None) -> Finding | None:
    """Checklist item 5 with its evidence: an info finding whose verdict is "passed" when k-NN accuracy beats the
    majority baseline and the silhouette clears SILHOUETTE_MIN; otherwise the warning of the paper's Fig. 3.
    None when the scores could not be computed (too few points)."""
    knn, silhouette, chance = scores.get("knn_accuracy", math.nan), scores.get("silhouette", math.nan), scores.get("chance", math.nan)
    points = int(scores.get("points", 0) or 0)
    if not all(math.isfinite(v) for v in (knn, silhouette, chance)) or points < 2:
        return None
    lo, hi = wilson_interval(round(knn * points), points)
    beats = lo > chance
    basis = (f"k-NN accuracy {knn:.2f} (95% CI {lo:.2f}-{hi:.2f}) {'>' if beats else 'not above'} majority {chance:.2f}; "
             f"silhouette {silhouette:.2f} {'≥' if silhouette >= SILHOUETTE_MIN else '<'} {SILHOUETTE_MIN:.2f}")
    evidence = {"accuracy": accuracy, **scores, "knn_ci95": [round(lo, 4), round(hi, 4)],
                "silhouette_threshold": SILHOUETTE_MIN, "basis": basis, "history": history or []}
    if beats and silhouette >= SILHOUETTE_MIN:
        return Finding("feature-structure", INFO, "The features have class structure",
                       f"In the penultimate layer's features of {points} validation images the classes separate: "
                       f"{basis} (paper, checklist item 5).", "", {**evidence, "verdict": PASSED},
                       pane="train", paper_item="II-A.5")
    fig3 = math.isfinite(accuracy) and (accuracy >= chance + max(0.1, 0.5 * chance) or accuracy >= chance + 0.2)
    return Finding(
        "no-class-structure", WARNING,
        "Above chance, but the features show no class structure" if fig3 else "The features show little class structure",
        (f"Validation accuracy is {accuracy:.2f} (majority: {chance:.2f}), yet " if fig3 else "")
        + f"in the penultimate layer's features the classes barely separate: {basis}. The network has not learned a "
        "useful representation (paper, checklist item 5 and Fig. 3)" + ("; its accuracy may rest on weak cues." if fig3 else "."),
        "Look at the projection. Train longer or with a better learning rate, use a pretrained network, and check the "
        "data findings (labels, input size, normalisation).",
        {**evidence, "verdict": "warning"}, pane="train", paper_item="II-A.5",
    )


def no_structure_finding(scores: dict[str, float], accuracy: float, history: list[dict] | None = None) -> Finding | None:
    """The Fig. 3 case: accuracy above chance, but features without class structure. None when it does not apply."""
    knn, silhouette, chance = scores.get("knn_accuracy", math.nan), scores.get("silhouette", math.nan), scores.get("chance", math.nan)
    if not all(math.isfinite(v) for v in (knn, silhouette, chance, accuracy)):
        return None
    above_chance = accuracy >= chance + max(0.1, 0.5 * chance) or accuracy >= chance + 0.2
    no_structure = silhouette < 0.1 and knn < chance + 0.5 * (1 - chance)
    if not (above_chance and no_structure):
        return None
    return Finding(
        "no-class-structure", WARNING, "Above chance, but the features show no class structure",
        f"Validation accuracy is {accuracy:.2f} (chance: {chance:.2f}), yet in the penultimate layer's features the "
        f"classes barely separate: k-NN accuracy {knn:.2f}, silhouette {silhouette:.2f}. The network has not learned a "
        "useful representation (paper, checklist item 5 and Fig. 3); its accuracy may rest on weak cues.",
        "Look at the projection. Train longer or with a better learning rate, use a pretrained network, and check the "
        "data findings (labels, input size, normalisation).",
        {"accuracy": accuracy, **scores, "history": history or []}, pane="train", paper_item="II-A.5",
    )
