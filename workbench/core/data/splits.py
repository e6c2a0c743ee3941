"""Seeded, stratified train/validation/test splits and k-fold, persisted as a manifest.

Every image lands in exactly one split. With stratification, each class's count in each split
differs from its exact share by less than one image.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from workbench.core.config import DataConfig
from workbench.core.data.discovery import Sample
from workbench.core.io import atomic_write_bytes

SPLITS = ("train", "val", "test")


def _allocate(n: int, fractions: tuple[float, float]) -> tuple[int, int]:
    """How many of `n` go to (val, test); at least one stays for training."""
    n_val, n_test = (round(n * f) for f in fractions)
    while n_val + n_test >= n and (n_val or n_test):
        if n_test >= n_val and n_test:
            n_test -= 1
        else:
            n_val -= 1
    return n_val, n_test


def _split_groups(groups: list[np.ndarray], fractions: tuple[float, float], out: list[str], rng) -> None:
    for indices in groups:
        order = indices[rng.permutation(len(indices))]
        n_val, n_test = _allocate(len(order), fractions)
        for i in order[:n_test]:
            out[i] = "test"
        for i in order[n_test:n_test + n_val]:
            out[i] = "val"
        for i in order[n_test + n_val:]:
            out[i] = "train"


def _groups(labels: np.ndarray, members: np.ndarray, stratified: bool) -> list[np.ndarray]:
    if not stratified:
        return [members]
    return [members[labels[members] == c] for c in np.unique(labels[members])]


def assign_splits(
    labels: Sequence[int],
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    stratified: bool = True,
    preset: Sequence[str | None] | None = None,
    k_folds: int = 0,
    fold: int = 0,
) -> list[str]:
    """The split ("train", "val" or "test") of each sample, reproducible from `seed`.

    `preset` holds splits fixed by the dataset layout; missing validation or test sets are carved from
    the given training images. With `k_folds` > 1, the non-test pool is cut into k stratified folds and
    fold `fold` serves as validation.
    """
    labels_arr = np.asarray(labels, dtype=np.int64)
    n = len(labels_arr)
    rng = np.random.default_rng(seed)
    out = ["train"] * n
    preset_list = list(preset) if preset is not None else [None] * n
    fixed = np.array([p is not None for p in preset_list], dtype=bool)
    for i in np.flatnonzero(fixed):
        out[i] = preset_list[i]
    given = {p for p in preset_list if p is not None}
    free = np.flatnonzero(~fixed)
    if len(free):
        _split_groups(_groups(labels_arr, free, stratified), (val_fraction, test_fraction), out, rng)
    if given:  # carve what the layout lacks from its training images
        want_val = 0.0 if "val" in given or k_folds > 1 else val_fraction
        want_test = 0.0 if "test" in given else test_fraction
        if want_val or want_test:
            pool = np.array([i for i in range(n) if fixed[i] and preset_list[i] == "train"], dtype=np.int64)
            _split_groups(_groups(labels_arr, pool, stratified), (want_val, want_test), out, rng)
    if k_folds > 1:
        pool = np.array([i for i in range(n) if out[i] != "test"], dtype=np.int64)
        fold_of = np.empty(n, dtype=np.int64)
        for members in _groups(labels_arr, pool, stratified):
            order = members[rng.permutation(len(members))]
            fold_of[order] = np.arange(len(order)) % k_folds
        for i in pool:
            out[i] = "val" if fold_of[i] == fold % k_folds else "train"
    return out


def splits_for(samples: Sequence[Sample], labels: Sequence[int], cfg: DataConfig) -> list[str]:
    return assign_splits(
        labels,
        val_fraction=0.0 if cfg.k_folds > 1 else cfg.val_fraction,
        test_fraction=cfg.test_fraction,
        seed=cfg.seed,
        stratified=cfg.stratified,
        preset=[s.split for s in samples],
        k_folds=cfg.k_folds,
        fold=cfg.fold,
    )


def write_manifest(path: Path, samples: Sequence[Sample], splits: Sequence[str]) -> str:
    """Write `path,label,split` rows atomically; returns the manifest's SHA-256."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "label", "split"])
    for sample, split in zip(samples, splits, strict=True):
        writer.writerow([sample.path, sample.label, split])
    data = buffer.getvalue().encode("utf-8")
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def read_manifest(path: Path) -> tuple[list[Sample], list[str]]:
    """A run's stored split. Raises DatasetError, naming the file, when it is damaged."""
    from workbench.core.data.errors import DatasetError

    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            columns = set(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DatasetError(f"the run's split file {path} cannot be read ({error}); it is needed to keep the test "
                           "set locked, so restore it from a backup or start a new run") from None
    missing = [c for c in ("path", "label", "split") if c not in columns]
    bad = [i + 2 for i, r in enumerate(rows) if r.get("split") not in SPLITS or not r.get("path") or not r.get("label")]
    if missing or bad:
        what = (f"lacks the column(s) {', '.join(missing)}" if missing else
                f"has {len(bad)} damaged row(s) (first: row {bad[0]}; each needs a path, a label and a split of "
                f"{', '.join(SPLITS)})")
        raise DatasetError(f"the run's split file {path} {what}; restore it from a backup or start a new run")
    samples = [Sample(r["path"], r["label"], r["split"]) for r in rows]
    return samples, [r["split"] for r in rows]


def manifest_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
