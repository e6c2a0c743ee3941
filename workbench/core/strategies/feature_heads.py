"""Classifiers fitted by scikit-learn on fixed features, stored as tensors so a run's checkpoint holds them.

Each head maps features (N×D) to logits (N×C) with plain tensor operations, so `model(x)` works after
`load_state_dict` with no pickled object: logistic regression and linear SVM become a linear layer,
the RBF SVM keeps its support vectors, the random forest its node arrays, k-NN its stored features.
Logistic regression gives log-probabilities exactly; SVM scores are margins, not calibrated
probabilities; k-NN and forest give log vote shares with a small floor (a wrong vote costs a finite loss).
The shapes of the buffers come from the fitted model, and loading a checkpoint resizes them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.core.strategies.common import knn_predict

FLOOR = 1e-4  # added to vote shares before the log


class ResizableBuffers(nn.Module):
    """A module whose buffers take the shapes of the state dict being loaded (they depend on the fitted model)."""

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any) -> None:
        for name, buffer in list(self._buffers.items()):
            key = prefix + name
            if buffer is not None and key in state_dict and state_dict[key].shape != buffer.shape:
                self._buffers[name] = torch.empty(state_dict[key].shape, dtype=state_dict[key].dtype, device=buffer.device)
        super()._load_from_state_dict(state_dict, prefix, *args)


class FeatureHead(ResizableBuffers):
    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes

    @property
    def fitted(self) -> bool:
        return all(b.numel() > 0 for b in self._buffers.values() if b is not None)

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fitted:  # before fitting (e.g. the GUI's model summary): uniform logits
            return x.new_zeros(x.shape[0], self.num_classes)
        return self.scores(x)


class LinearHead(FeatureHead):
    """W·x + b from logistic regression (softmax = predict_proba) or a linear SVM (margins)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__(num_classes)
        self.register_buffer("weight", torch.zeros(0, 0))
        self.register_buffer("bias", torch.zeros(0))

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight.T + self.bias

    def set(self, coef: np.ndarray, intercept: np.ndarray) -> None:
        if coef.shape[0] == 1:  # binary: scikit-learn keeps one row for class 1; class 0 scores 0
            coef = np.concatenate([np.zeros_like(coef), coef])
            intercept = np.concatenate([np.zeros(1), np.atleast_1d(intercept)])
        self.weight = torch.as_tensor(coef, dtype=torch.float32)
        self.bias = torch.as_tensor(intercept, dtype=torch.float32)


class KNNHead(FeatureHead):
    """k nearest stored training features (Euclidean), as scikit-learn's KNeighborsClassifier with uniform weights."""

    def __init__(self, num_classes: int, k: int = 5) -> None:
        super().__init__(num_classes)
        self.register_buffer("bank", torch.zeros(0, 0))
        self.register_buffer("bank_labels", torch.zeros(0, dtype=torch.long))
        self.register_buffer("k", torch.tensor(k))

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        _, nearest = knn_predict(x, self.bank, self.bank_labels, int(self.k), self.num_classes)
        shares = nn.functional.one_hot(self.bank_labels[nearest], self.num_classes).float().mean(1)
        return torch.log(shares + FLOOR)

    def set(self, features: np.ndarray, labels: np.ndarray) -> None:
        self.bank = torch.as_tensor(features, dtype=torch.float32)
        self.bank_labels = torch.as_tensor(labels, dtype=torch.long)


class ForestHead(FeatureHead):
    """A random forest as arrays: each tree walks from the root by `x[feature] <= threshold` to a leaf."""

    def __init__(self, num_classes: int) -> None:
        super().__init__(num_classes)
        self.register_buffer("feature", torch.zeros(0, 0, dtype=torch.long))  # trees × nodes
        self.register_buffer("threshold", torch.zeros(0, 0))
        self.register_buffer("child", torch.zeros(0, 0, 2, dtype=torch.long))  # a leaf points to itself
        self.register_buffer("value", torch.zeros(0, 0, 0))  # trees × nodes × classes, class shares per node
        self.register_buffer("depth", torch.zeros(1, dtype=torch.long))

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        trees = self.feature.shape[0]
        rows = torch.arange(trees, device=x.device).expand(x.shape[0], trees)
        node = torch.zeros(x.shape[0], trees, dtype=torch.long, device=x.device)
        for _ in range(int(self.depth.max())):
            column = self.feature[rows, node]
            left = x.gather(1, column) <= self.threshold[rows, node]
            node = torch.where(left, self.child[rows, node, 0], self.child[rows, node, 1])
        return torch.log(self.value[rows, node].mean(1) + FLOOR)

    def set(self, forest: Any) -> None:
        estimators = forest.estimators_
        nodes = max(e.tree_.node_count for e in estimators)
        n_trees, n_classes = len(estimators), self.num_classes
        feature = np.zeros((n_trees, nodes), np.int64)
        threshold = np.zeros((n_trees, nodes), np.float32)
        children = np.tile(np.arange(nodes, dtype=np.int64)[None, :, None], (n_trees, 1, 2))
        value = np.zeros((n_trees, nodes, n_classes), np.float32)
        for t, estimator in enumerate(estimators):
            tree = estimator.tree_
            n = tree.node_count
            inner = tree.children_left[:n] >= 0
            feature[t, :n] = np.where(inner, tree.feature[:n], 0)
            threshold[t, :n] = _float32_at_most(np.where(inner, tree.threshold[:n], 0.0))
            children[t, :n, 0] = np.where(inner, tree.children_left[:n], np.arange(n))
            children[t, :n, 1] = np.where(inner, tree.children_right[:n], np.arange(n))
            counts = tree.value[:n, 0, :]
            value[t, :n][:, forest.classes_] = counts / np.maximum(counts.sum(1, keepdims=True), 1e-12)
        self.feature, self.child = torch.as_tensor(feature), torch.as_tensor(children)
        self.threshold, self.value = torch.as_tensor(threshold), torch.as_tensor(value)
        self.depth = torch.tensor([max(e.tree_.max_depth for e in estimators)])


def _float32_at_most(values: np.ndarray) -> np.ndarray:
    """The largest float32 not above each float64 threshold: for float32 inputs, x <= t exactly when x <= t32
    (scikit-learn compares float32 features with float64 thresholds)."""
    rounded = values.astype(np.float32)
    above = rounded.astype(np.float64) > values
    rounded[above] = np.nextafter(rounded[above], np.float32(-np.inf))
    return rounded


class RBFSVMHead(FeatureHead):
    """An RBF-kernel SVM: one-vs-one decisions from the support vectors, combined into one-vs-rest scores exactly
    as scikit-learn's SVC.decision_function(shape='ovr') does (votes plus a confidence term below 1/3)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__(num_classes)
        self.register_buffer("support", torch.zeros(0, 0))
        self.register_buffer("dual", torch.zeros(0, 0))  # (classes − 1) × support vectors
        self.register_buffer("intercept", torch.zeros(0))  # one per pair of classes
        self.register_buffer("n_support", torch.zeros(0, dtype=torch.long))
        self.register_buffer("gamma", torch.zeros(1))

    def pair_decisions(self, x: torch.Tensor) -> torch.Tensor:
        """One-vs-one decision values, pairs (i, j) with i < j in order; positive favours class i."""
        kernel = torch.exp(-self.gamma * torch.cdist(x.double(), self.support.double()).square())
        starts = np.concatenate([[0], np.cumsum(self.n_support.cpu().numpy())])
        out, p = [], 0
        for i in range(self.num_classes):
            for j in range(i + 1, self.num_classes):
                si, sj = slice(starts[i], starts[i + 1]), slice(starts[j], starts[j + 1])
                dec = kernel[:, si] @ self.dual[j - 1, si].double() + kernel[:, sj] @ self.dual[i, sj].double()
                out.append(dec + self.intercept[p].double())
                p += 1
        decisions = torch.stack(out, 1)
        # scikit-learn flips the signs of dual_coef_ and intercept_ for two classes (positive = class 1 there)
        return -decisions if self.num_classes == 2 else decisions

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        dec = self.pair_decisions(x)
        votes = x.new_zeros(x.shape[0], self.num_classes, dtype=torch.float64)
        confidence = torch.zeros_like(votes)
        p = 0
        for i in range(self.num_classes):
            for j in range(i + 1, self.num_classes):
                confidence[:, i] += dec[:, p]
                confidence[:, j] -= dec[:, p]
                votes[:, i] += (dec[:, p] > 0).double()
                votes[:, j] += (dec[:, p] <= 0).double()
                p += 1
        return (votes + confidence / (3 * (confidence.abs() + 1))).float()

    def set(self, svc: Any) -> None:
        self.support = torch.as_tensor(svc.support_vectors_, dtype=torch.float32)
        self.dual = torch.as_tensor(svc.dual_coef_, dtype=torch.float32)
        self.intercept = torch.as_tensor(svc.intercept_, dtype=torch.float32)
        self.n_support = torch.as_tensor(svc.n_support_, dtype=torch.long)
        self.gamma = torch.tensor([float(svc._gamma)])


HEADS = {"logistic": LinearHead, "linear_svm": LinearHead, "rbf_svm": RBFSVMHead, "knn": KNNHead,
         "random_forest": ForestHead}


def make_head(kind: str, num_classes: int, k: int = 5) -> FeatureHead:
    """An unfitted head of `kind`, the shape that a run's checkpoint is loaded into."""
    if kind == "knn":
        return KNNHead(num_classes, k)
    return HEADS[kind](num_classes)


# Classifiers whose scikit-learn class takes `class_weight` (k-NN votes by neighbours and has none).
WEIGHTABLE = ("logistic", "linear_svm", "rbf_svm", "random_forest")


def fit_head(kind: str, features: np.ndarray, labels: np.ndarray, num_classes: int, *, c: float = 1.0, k: int = 5,
             trees: int = 200, seed: int = 0, balanced: bool = False) -> FeatureHead:
    """Fit the scikit-learn classifier `kind` on float32 features and return it as a tensor head.

    `balanced` weights each class by its inverse frequency (scikit-learn's class_weight="balanced"), the
    feature-extraction counterpart of the weighted loss that `training.class_weighting` asks for.
    """
    missing = sorted(set(range(num_classes)) - set(np.unique(labels).tolist()))
    if missing:
        raise ValueError(f"the training split has no image of class index(es) {missing}; a classifier cannot learn them")
    head = make_head(kind, num_classes, k)
    weight = "balanced" if balanced and kind in WEIGHTABLE else None
    if kind == "logistic":
        from sklearn.linear_model import LogisticRegression

        fitted = LogisticRegression(C=c, max_iter=5000, class_weight=weight).fit(features, labels)
        head.set(fitted.coef_, fitted.intercept_)  # type: ignore[attr-defined]
    elif kind == "linear_svm":
        from sklearn.svm import LinearSVC

        fitted = LinearSVC(C=c, max_iter=20000, random_state=seed, class_weight=weight).fit(features, labels)
        head.set(fitted.coef_, fitted.intercept_)  # type: ignore[attr-defined]
    elif kind == "rbf_svm":
        from sklearn.svm import SVC

        svc = SVC(C=c, kernel="rbf", gamma="scale", random_state=seed, class_weight=weight)
        head.set(svc.fit(features, labels))  # type: ignore[attr-defined]
    elif kind == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        forest = RandomForestClassifier(n_estimators=trees, random_state=seed, n_jobs=-1,
                                        class_weight=weight).fit(features, labels)
        head.set(forest)  # type: ignore[attr-defined]
    elif kind == "knn":
        head.set(features, labels)  # type: ignore[attr-defined]
    else:
        raise ValueError(f"unknown classifier {kind!r}; choose one of {sorted(HEADS)}")
    return head
