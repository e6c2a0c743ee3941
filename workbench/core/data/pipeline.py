"""From a project's data settings to ready tensors: scan, decode, split and compute statistics.

The engine, the statistics preview and evaluation all go through `prepare_data`, so they see the
same samples in the same splits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.core.config import ProjectConfig
from workbench.core.data.cache import DecodedImages, decode_dataset
from workbench.core.data.discovery import DatasetScan, Sample, SkippedFile, scan_dataset
from workbench.core.data.errors import DatasetError
from workbench.core.data.splits import SPLITS, read_manifest, splits_for
from workbench.core.data.stats import NormStats, compute_norm_stats

StageProgress = Callable[[str, int, int], None]


@dataclass
class PreparedData:
    class_names: list[str]
    samples: list[Sample]  # usable samples, one per row of `images.array`
    labels: np.ndarray
    splits: list[str]
    images: DecodedImages
    stats: NormStats
    layout: str = ""
    skipped: list[SkippedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def indices(self, split: str) -> np.ndarray:
        return np.array([i for i, s in enumerate(self.splits) if s == split], dtype=np.int64)

    def split_sizes(self) -> dict[str, int]:
        return {s: int(sum(1 for x in self.splits if x == s)) for s in SPLITS}

    @property
    def in_channels(self) -> int:
        return int(self.images.array.shape[1])

    def class_counts(self, split: str) -> list[int]:
        idx = self.indices(split)
        return np.bincount(self.labels[idx], minlength=len(self.class_names)).tolist()


def _thin_class_warnings(names: list[str], labels: np.ndarray, splits: list[str]) -> list[str]:
    """Classes too small to appear in every split that exists."""
    notes = []
    train = set(labels[[i for i, s in enumerate(splits) if s == "train"]].tolist())
    no_train = [names[c] for c in range(len(names)) if c not in train and c in set(labels.tolist())]
    if no_train:
        notes.append(f"class(es) {', '.join(no_train)} have no training images (only validation or test ones), so "
                     "the network cannot learn them; add images to their train/ folder or manifest rows")
    for split in ("val", "test"):
        members = labels[[i for i, s in enumerate(splits) if s == split]]
        if len(members) == 0:
            continue
        missing = [names[c] for c in range(len(names)) if c not in set(members.tolist())]
        if missing:
            counts = np.bincount(labels, minlength=len(names))
            detail = ", ".join(f"{m} ({counts[names.index(m)]} image(s))" for m in missing)
            notes.append(f"class(es) {detail} have too few images to appear in the {split} split, so their "
                         f"{split} results cannot be measured; add images to them")
    return notes


def prepare_data(
    config: ProjectConfig,
    *,
    manifest: Path | None = None,
    class_names: list[str] | None = None,
    stats: NormStats | None = None,
    cache_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    stage_progress: StageProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> PreparedData:
    """Everything training needs from the data. With `manifest`, the stored split is reused exactly."""

    def report(stage: str) -> Callable[[int, int], None]:
        def inner(done: int, total: int) -> None:
            if stage_progress is not None:
                stage_progress(stage, done, total)
            if progress is not None:
                progress(done, total)
        return inner

    skipped: list[SkippedFile] = []
    warnings: list[str] = []
    if manifest is not None:
        samples, splits = read_manifest(manifest)
        layout = "manifest"
        names = class_names or sorted({s.label for s in samples})
    else:
        scan: DatasetScan = scan_dataset(config.data.source, config.data.layout, report("scan"), should_stop)
        samples, layout, names = scan.samples, scan.layout, scan.classes
        skipped, warnings = list(scan.skipped), list(scan.warnings)
        splits = []
    images = decode_dataset(samples, config.preprocessing, cache_dir=cache_dir, progress=report("decode"),
                            should_stop=should_stop)
    skipped += images.failed
    warnings += images.notes
    kept = [samples[i] for i in images.kept]
    index = {c: i for i, c in enumerate(names)}
    unknown = sorted({s.label for s in kept if s.label not in index})
    if unknown:
        raise DatasetError(f"the dataset has classes the run does not know: {', '.join(unknown)}")
    labels = np.array([index[s.label] for s in kept], dtype=np.int64)
    if manifest is not None:
        if images.failed:
            first = images.failed[0]
            if not images.kept or not any(splits[i] == "train" for i in images.kept):
                where = "all" if not images.kept else "every training image"
                raise DatasetError(
                    f"{where} of the {len(samples)} images listed in the run's {manifest.name} cannot be read (first: "
                    f"{first.path}: {first.reason}); was the dataset moved, renamed or deleted? Put it back where "
                    "it was, then try again"
                )
            warnings.append(f"{len(images.failed)} file(s) of the stored split can no longer be read and were left out "
                            f"(first: {first.path}: {first.reason})")
        splits = [splits[i] for i in images.kept]
    else:
        present = set(labels.tolist())
        lost = [names[i] for i in range(len(names)) if i not in present]
        if lost:
            raise DatasetError(f"no image of class(es) {', '.join(lost)} could be read; see the skipped files")
        splits = splits_for(kept, labels.tolist(), config.data)
    warnings += _thin_class_warnings(names, labels, splits)
    train_idx = [i for i, s in enumerate(splits) if s == "train"]
    if not train_idx:
        raise DatasetError("the training split is empty; lower the validation and test shares or add images")
    if stats is None:
        stats = compute_norm_stats(images.array, train_idx, config.preprocessing.normalization, images.value_scale)
    return PreparedData(names, kept, labels, splits, images, stats, layout, skipped, warnings)


def training_split_statistics(
    config: ProjectConfig,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> NormStats:
    """Scan, split and decode the project's dataset, then compute statistics on the training split."""
    return prepare_data(config, progress=progress, should_stop=should_stop).stats
