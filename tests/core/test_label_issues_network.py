"""Label errors judged by the network itself (checklist item 3): after a run from its validation predictions,
and after a k-fold cross-validation from every fold's out-of-fold predictions over the whole training pool."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.core.diag_fixtures import bars, save_png, small_config
from workbench.core.data.splits import read_manifest
from workbench.core.diagnostics.label_issues import load_out_of_sample_probs, out_of_fold_findings, save_out_of_sample_probs

FLIP_SHARE = 0.15


@pytest.fixture(scope="module")
def flipped_bars(tmp_path_factory) -> tuple[Path, set[str]]:
    """Horizontal and vertical bars, 80 per class, with 15% of each class filed under the other class."""
    root = tmp_path_factory.mktemp("flipped")
    rng = np.random.default_rng(3)
    flipped: set[str] = set()
    for name, horizontal in (("horizontal", True), ("vertical", False)):
        other = "vertical" if horizontal else "horizontal"
        for i, image in enumerate(bars(80, horizontal, rng)):
            wrong = i < int(80 * FLIP_SHARE)
            path = save_png(root / (other if wrong else name) / f"{'flip' if wrong else 'ok'}_{name}_{i:03d}.png", image)
            if wrong:
                flipped.add(str(path))
    return root, flipped


def label_only(config):
    """Diagnostics on, but only the label check (and a cheap projection), to keep the runs short."""
    d = config.diagnostics
    d.data_checks = d.training_checks = d.shortcut_check = False
    d.projection_every, d.projection_method, d.projection_wait_s = 0, "pca", 5.0
    return config


def test_out_of_fold_findings_combine_the_folds_saved_predictions(tmp_path: Path) -> None:
    """Synthetic folds: each holds out a third of the rows; confident disagreements are listed with their fold."""
    paths = [f"/data/{'a' if i < 15 else 'b'}/{i}.png" for i in range(30)]
    labels = [0 if i < 15 else 1 for i in range(30)]
    wrong = {2, 20}
    runs = []
    for fold in range(3):
        run = tmp_path / f"run{fold}"
        run.mkdir()
        (run / "classes.json").write_text(json.dumps(["a", "b"]))
        rows = np.arange(fold, 30, 3)
        (run / "split.csv").write_text("path,label,split\n" + "".join(
            f"{p},{'ab'[y]},{'val' if i in rows else 'train'}\n" for i, (p, y) in enumerate(zip(paths, labels, strict=True))))
        probs = np.array([[0.99, 0.01] if (labels[r] == 0) != (r in wrong) else [0.01, 0.99] for r in rows])
        save_out_of_sample_probs(run / "diagnostics", rows, probs)
        runs.append(run)
    rows, probs = load_out_of_sample_probs(runs[1])
    assert rows.tolist() == list(range(1, 30, 3)) and probs.shape == (10, 2)

    findings = out_of_fold_findings(runs)
    assert [f.code for f in findings] == ["label-issues"]
    suspects = findings[0].evidence["suspects"]
    assert {s["path"] for s in suspects} == {paths[2], paths[20]}
    assert {s["path"]: s["split"] for s in suspects} == {paths[2]: "fold 3", paths[20]: "fold 3"}
    assert "out-of-fold" in findings[0].explanation
    assert out_of_fold_findings(runs[:1]) == []  # one fold alone is not a cross-validation


def test_a_run_judges_its_validation_labels_and_k_fold_judges_the_whole_pool(flipped_bars, tmp_path: Path) -> None:
    from workbench.core.strategies.kfold import run_k_fold

    root, flipped = flipped_bars
    config = label_only(small_config(root, tmp_path / "runs", epochs=4, lr=0.01))
    config.data.k_folds = 3
    result = run_k_fold(config)
    assert result.status == "completed", result.reason

    # Each fold saved its network's probabilities for exactly its validation rows.
    for fold in result.folds:
        samples, splits = read_manifest(fold.run_dir / "split.csv")
        rows, probs = load_out_of_sample_probs(fold.run_dir)
        assert sorted(rows.tolist()) == [i for i, s in enumerate(splits) if s == "val"]
        assert probs.shape == (len(rows), 2) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)

    # Together the folds score the whole training pool; the flipped images are what cleanlab lists.
    assert [f.code for f in result.findings] == ["label-issues"]
    evidence = result.findings[0].evidence
    samples, splits = read_manifest(result.folds[0].run_dir / "split.csv")
    pool = {s.path for s, split in zip(samples, splits, strict=True) if split != "test"}
    assert evidence["images_checked"] == len(pool)
    suspects = {s["path"] for s in evidence["suspects"]}
    planted = flipped & pool
    assert len(suspects & planted) >= 0.6 * len(planted)
    assert len(suspects & planted) >= 0.7 * len(suspects)  # few good labels accused
    saved = json.loads(result.summary_path.read_text())
    assert saved["findings"][0]["code"] == "label-issues"


def test_the_label_check_reads_the_last_validation_pass_instead_of_predicting_again(flipped_bars, tmp_path: Path,
                                                                                   monkeypatch) -> None:
    """The last epoch's validation pass already holds the trained weights' probabilities for every validation
    image; the end-of-run label check uses them and never rebuilds the model to predict again."""
    import workbench.core.diagnostics.background_jobs as jobs
    from workbench.core.training.engine import train

    rebuilt: list[int] = []
    monkeypatch.setattr(jobs, "_load_model", lambda data: rebuilt.append(1))
    root, _ = flipped_bars
    result = train(label_only(small_config(root, tmp_path / "runs", epochs=2, lr=0.01)))
    assert result.status == "completed", result.reason
    _, splits = read_manifest(result.run_dir / "split.csv")
    rows, probs = load_out_of_sample_probs(result.run_dir)
    assert sorted(rows.tolist()) == [i for i, s in enumerate(splits) if s == "val"]
    assert probs.shape == (len(rows), 2) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert rebuilt == []


def test_network_accuracy_is_scikit_learns_balanced_accuracy() -> None:
    from sklearn.metrics import balanced_accuracy_score

    from workbench.core.diagnostics.label_issues import network_accuracy

    rng = np.random.default_rng(0)
    labels = rng.choice([0, 1, 3], size=200, p=[0.7, 0.2, 0.1])  # imbalanced, class 2 absent
    probs = rng.dirichlet(np.ones(4), size=200)
    probs[np.arange(120), labels[:120]] += 1.0  # right on most, and class 2 is predicted at times
    expected = balanced_accuracy_score(labels, probs.argmax(1))
    assert network_accuracy(labels, probs) == pytest.approx(expected, abs=1e-12)
    assert np.isnan(network_accuracy(np.zeros(0, int), np.zeros((0, 4))))


@pytest.fixture(scope="module")
def digits_model_without_two_classes() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Held-out digit scans and the class probabilities of a pixel model that never learnt "1" or "4" (it was fitted
    without them), as an undertrained network that never predicts some classes: (labels, probs, class names)."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    digits = load_digits()
    x, y = digits.data / 16.0, digits.target
    fit, held = np.arange(len(y)) % 2 == 0, np.arange(len(y)) % 2 == 1
    learnt = fit & ~np.isin(y, [1, 4])
    model = LogisticRegression(max_iter=500).fit(x[learnt], y[learnt])
    probs = np.full((int(held.sum()), 10), 1e-6)
    probs[:, model.classes_] = model.predict_proba(x[held])
    return y[held], probs, [f"digit_{c}" for c in range(10)]


def _samples(n: int):
    from workbench.core.data.discovery import Sample

    return [Sample(f"img_{i:04d}.png", "x") for i in range(n)]


def test_a_model_that_has_not_learnt_a_class_accuses_none_of_its_labels(digits_model_without_two_classes) -> None:
    """Clean digits: every "1" and "4" is predicted as another digit with confidence, which cleanlab flags; those are
    the model's confusion, so nothing is accused, and the verdict names the two classes and their recall."""
    from cleanlab.filter import find_label_issues

    from workbench.core.diagnostics.label_issues import after_training_findings, unlearnt_classes

    labels, probs, names = digits_model_without_two_classes
    raw = find_label_issues(labels, probs / probs.sum(1, keepdims=True), n_jobs=1)
    assert raw.sum() >= 0.5 * np.isin(labels, [1, 4]).sum()  # what used to be reported as wrong labels
    assert set(unlearnt_classes(labels, probs)) >= {1, 4}
    findings = after_training_findings(labels, probs, _samples(len(labels)), names, ["val"] * len(labels))
    assert [f.code for f in findings] == ["label-check-inconclusive"]
    assert "digit_1 (recall 0.00)" in findings[0].explanation and "digit_4 (recall 0.00)" in findings[0].explanation


def test_wrong_labels_in_the_learnt_classes_are_still_found(digits_model_without_two_classes) -> None:
    """The same model and images with 8 % of the learnt classes' labels flipped: the flips are found, and no
    image of an unlearnt class is among the suspects."""
    from workbench.core.diagnostics.label_issues import label_issue_findings

    labels, probs, names = digits_model_without_two_classes
    rng = np.random.default_rng(0)
    noisy = labels.copy()
    candidates = np.flatnonzero(~np.isin(labels, [1, 4]))
    flipped = rng.choice(candidates, size=int(0.08 * len(candidates)), replace=False)
    for i in flipped:
        noisy[i] = rng.choice([c for c in (0, 2, 3, 5, 6, 7, 8, 9) if c != labels[i]])
    (finding,) = label_issue_findings(noisy, probs, _samples(len(labels)), names)
    suspects = {s["index"] for s in finding.evidence["suspects"]}
    assert len(suspects & set(flipped.tolist())) >= 0.7 * len(flipped)
    assert not suspects & set(np.flatnonzero(np.isin(labels, [1, 4])).tolist())
    assert finding.evidence["set_aside"] > 0 and set(finding.evidence["unlearnt_classes"]) >= {"digit_1", "digit_4"}
