"""Feature extraction honours `training.class_weighting` (issue 18, item 3), on real imbalanced digits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import tiny_config, write_shapes_dataset
from workbench.core.callbacks import CollectingCallback
from workbench.core.events import LogMessage
from workbench.core.strategies.feature_heads import fit_head
from workbench.core.training.engine import train


def _imbalanced_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scanned digits 3, 5 and 8 at 140:140:10 (14:1) for training; the rest of them for testing."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    train_rows, test_rows = [], []
    for new, (digit, n) in enumerate(((3, 140), (5, 140), (8, 10))):
        rows = rng.permutation(np.flatnonzero(y == digit))
        train_rows.append(rows[:n])
        test_rows.append(rows[150:])
        y[rows] = new
    tr, te = np.concatenate(train_rows), np.concatenate(test_rows)
    mean, std = x[tr].mean(0), x[tr].std(0) + 1e-6
    return ((x[tr] - mean) / std).astype(np.float32), y[tr], ((x[te] - mean) / std).astype(np.float32), y[te]


@pytest.mark.parametrize(("kind", "c"), [("logistic", 0.01), ("rbf_svm", 1.0), ("random_forest", 1.0)])
def test_class_weighting_rescues_the_rare_class(kind: str, c: float) -> None:
    x, y, x_test, y_test = _imbalanced_digits()
    recalls = []
    for balanced in (False, True):
        head = fit_head(kind, x, y, 3, c=c, trees=50, balanced=balanced)
        predicted = head(torch.from_numpy(x_test)).argmax(1).numpy()
        recalls.append(float((predicted[y_test == 2] == 2).mean()))
    plain, weighted = recalls
    assert weighted >= plain + 0.15 and weighted >= 0.5, (plain, weighted)


def test_feature_extraction_run_reports_its_class_weighting(trained_run: Path, tmp_path: Path) -> None:
    data = write_shapes_dataset(tmp_path / "data", counts=[42, 42, 6])
    config = tiny_config(data, tmp_path / "runs", class_weighting=True)
    config.strategy.name = "feature_extraction"
    config.strategy.weights, config.strategy.weights_path = "run", str(trained_run)
    result = train(config)
    assert result.status == "completed", result.reason
    report = json.loads((result.run_dir / "feature_extraction.json").read_text())
    assert report["class_weighting"] == "balanced"
    config.strategy.classifier = "knn"  # k-NN has no class weights: the run says so rather than pretending
    events = CollectingCallback()
    result = train(config, events)
    report = json.loads((result.run_dir / "feature_extraction.json").read_text())
    assert report["class_weighting"] == "not supported by knn"
    assert any(isinstance(e, LogMessage) and "k-NN does not weight classes" in e.message for e in events.events)
