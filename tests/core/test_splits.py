"""Splits: exactly one split per image, stratified within one image, reproducible, k-fold, manifest."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.data.discovery import Sample
from workbench.core.data.splits import assign_splits, read_manifest, write_manifest


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(1, 40), min_size=2, max_size=6),
    val=st.floats(0.0, 0.5),
    test=st.floats(0.0, 0.5),
    seed=st.integers(0, 2**31 - 1),
)
def test_split_properties(counts: list[int], val: float, test: float, seed: int) -> None:
    labels = [c for c, n in enumerate(counts) for _ in range(n)]
    splits = assign_splits(labels, val_fraction=val, test_fraction=test, seed=seed)
    assert len(splits) == len(labels) and set(splits) <= {"train", "val", "test"}
    assert splits == assign_splits(labels, val_fraction=val, test_fraction=test, seed=seed)
    for c, n in enumerate(counts):
        per = Counter(s for s, lab in zip(splits, labels, strict=True) if lab == c)
        assert per["train"] >= 1, "every class keeps a training image"
        if n * (val + test) < n - 1:  # no clamping needed: stratified within one image
            assert abs(per["val"] - n * val) <= 1 and abs(per["test"] - n * test) <= 1


def test_different_seeds_differ() -> None:
    labels = [0] * 50 + [1] * 50
    a = assign_splits(labels, val_fraction=0.2, test_fraction=0.2, seed=1)
    b = assign_splits(labels, val_fraction=0.2, test_fraction=0.2, seed=2)
    assert a != b


def test_k_fold_keeps_test_and_rotates_validation() -> None:
    labels = [0] * 30 + [1] * 30
    folds = [assign_splits(labels, val_fraction=0.0, test_fraction=0.2, seed=3, k_folds=5, fold=f) for f in range(5)]
    tests = [{i for i, s in enumerate(f) if s == "test"} for f in folds]
    assert all(t == tests[0] for t in tests), "the test set never moves"
    vals = [{i for i, s in enumerate(f) if s == "val"} for f in folds]
    union = set().union(*vals)
    assert union == set(range(60)) - tests[0], "every non-test image validates exactly once"
    assert sum(len(v) for v in vals) == len(union)
    for v in vals:
        assert Counter(labels[i] for i in v)[0] == Counter(labels[i] for i in v)[1]


def test_preset_splits_are_respected_and_missing_val_is_carved_from_train() -> None:
    labels = [0, 1] * 20
    preset = ["train"] * 30 + ["test"] * 10
    splits = assign_splits(labels, val_fraction=0.2, test_fraction=0.2, seed=0, preset=preset)
    assert splits[30:] == ["test"] * 10
    assert Counter(splits[:30])["val"] == 6


def test_manifest_round_trip(tmp_path: Path) -> None:
    samples = [Sample(f"/x/{i}.png", "a" if i % 2 else "b") for i in range(5)]
    splits = ["train", "val", "test", "train", "train"]
    digest = write_manifest(tmp_path / "split.csv", samples, splits)
    assert len(digest) == 64
    loaded, loaded_splits = read_manifest(tmp_path / "split.csv")
    assert [s.path for s in loaded] == [s.path for s in samples] and loaded_splits == splits
    assert np.array_equal([s.label for s in loaded], [s.label for s in samples])
