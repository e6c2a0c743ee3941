"""Checklist item 3 (data quality): exact and near-duplicate images, within a split and across splits.

A copy of a training image in the test split leaks the answer: the test score then measures memory,
not generalisation. Candidates come from perceptual-hash bands; each is confirmed on a 16×16 thumbnail,
where a near-duplicate differs by less than 5% of the images' own contrast.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from workbench.core.diagnostics.context import CheckContext, grey_rows
from workbench.core.diagnostics.findings import INFO, PROBLEM, WARNING, Finding, passed_finding
from workbench.core.diagnostics.hashing import candidate_pairs, dhash, phash

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig
    from workbench.core.data.pipeline import PreparedData

NEAR = 0.05  # spread of the difference, relative to the images' own spread
SHOWN = 50


@dataclass(frozen=True)
class DuplicatePair:
    a: int
    b: int
    kind: str  # "exact" or "near"
    difference: float


def _thumbnails(prepared: PreparedData, ctx: CheckContext) -> tuple[np.ndarray, list[bytes], np.ndarray]:
    """16×16 greyscale thumbnails, a digest of each cached row, and the dHash and pHash of each image (2×N)."""
    n = len(prepared.labels)
    side = min(16, prepared.images.array.shape[-1])
    thumbs = np.empty((n, side * side), dtype=np.float32)
    digests: list[bytes] = []
    hashes_d, hashes_p = np.empty(n, np.uint64), np.empty(n, np.uint64)
    for start in range(0, n, 512):
        ctx.check_stop()
        rows = np.arange(start, min(start + 512, n))
        raw = np.asarray(prepared.images.array[rows])
        digests.extend(hashlib.blake2b(r.tobytes(), digest_size=16).digest() for r in raw)
        grey = grey_rows(prepared.images.array, rows, prepared.images.value_scale)
        hashes_d[rows], hashes_p[rows] = dhash(grey), phash(grey)
        thumbs[rows] = F.adaptive_avg_pool2d(torch.from_numpy(grey)[:, None], side).reshape(len(rows), -1).numpy()
    return thumbs, digests, np.stack([hashes_d, hashes_p])


def find_duplicates(prepared: PreparedData, ctx: CheckContext | None = None) -> list[DuplicatePair]:
    """Every pair of usable images that are identical at the network's size, or nearly so."""
    ctx = ctx or CheckContext()
    thumbs, digests, hashes = _thumbnails(prepared, ctx)
    pairs: dict[tuple[int, int], DuplicatePair] = {}
    groups: dict[bytes, list[int]] = {}
    for i, digest in enumerate(digests):
        groups.setdefault(digest, []).append(i)
    for members in groups.values():
        if len(members) < 2:
            continue
        # Pair every copy with the first copy in each split: linear in the group size, and no split pairing is missed.
        firsts: dict[str, int] = {}
        for m in members:
            firsts.setdefault(prepared.splits[m], m)
        for m in members:
            for rep in firsts.values():
                if rep != m:
                    key = (min(rep, m), max(rep, m))
                    pairs[key] = DuplicatePair(*key, "exact", 0.0)
    candidates = candidate_pairs([hashes[0], hashes[1]])
    spread = thumbs.std(axis=1)
    for start in range(0, len(candidates), 20000):
        ctx.check_stop()
        block = candidates[start:start + 20000]
        a, b = block[:, 0], block[:, 1]
        contrast = np.maximum(spread[a], spread[b])
        difference = (thumbs[a] - thumbs[b]).std(axis=1) / np.maximum(contrast, 1e-6)
        keep = (difference <= NEAR) & (contrast > 1e-3)  # blank images are the blank-image check's business
        for i, j, d in zip(a[keep].tolist(), b[keep].tolist(), difference[keep].tolist(), strict=True):
            pairs.setdefault((i, j), DuplicatePair(i, j, "near", round(float(d), 4)))
    return sorted(pairs.values(), key=lambda p: (p.a, p.b))


def _describe(prepared: PreparedData, pair: DuplicatePair) -> dict:
    names = prepared.class_names
    return {"a": prepared.samples[pair.a].path, "b": prepared.samples[pair.b].path,
            "split_a": prepared.splits[pair.a], "split_b": prepared.splits[pair.b],
            "label_a": names[int(prepared.labels[pair.a])], "label_b": names[int(prepared.labels[pair.b])],
            "kind": pair.kind, "difference": pair.difference}


def check_duplicates(prepared: PreparedData, config: ProjectConfig, ctx: CheckContext) -> list[Finding]:
    pairs = find_duplicates(prepared, ctx)
    if not pairs:
        return [passed_finding("no-duplicates", "No duplicated images",
                               f"0 duplicate pairs among {len(prepared.labels):,} images",
                               {"pair_count": 0, "images": len(prepared.labels)}, "samples", "II-A.3")]
    splits = prepared.splits
    across = [p for p in pairs if splits[p.a] != splits[p.b]]
    within = [p for p in pairs if splits[p.a] == splits[p.b]]
    conflicts = [p for p in pairs if prepared.labels[p.a] != prepared.labels[p.b]]
    findings: list[Finding] = []
    if across:
        kinds: dict[str, int] = {}
        for p in across:
            key = "↔".join(sorted((splits[p.a], splits[p.b])))
            kinds[key] = kinds.get(key, 0) + 1
        touches_test = any("test" in k and "train" in k for k in kinds)
        test_images = {i for p in across for i in (p.a, p.b) if splits[i] == "test"}
        findings.append(Finding(
            "duplicates-across-splits", PROBLEM if touches_test else WARNING,
            "The same images appear in more than one split",
            f"{len(across)} pair(s) of identical or near-identical images sit in different splits "
            f"({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}). A model can score well on such images by "
            "remembering them, so the validation or test result overstates how well it generalises"
            + (f"; {len(test_images)} test image(s) are affected." if test_images else "."),
            "Delete the copies from the dataset, or keep each group of copies inside one split, then split again.",
            {"pairs": [_describe(prepared, p) for p in across[:SHOWN]], "pair_count": len(across),
             "by_splits": kinds, "test_images_affected": len(test_images)},
            pane="samples", paper_item="II-A.3",
        ))
    if within:
        involved = {i for p in within for i in (p.a, p.b)}
        share = len(involved) / max(1, len(prepared.labels))
        findings.append(Finding(
            "duplicates-within-split", WARNING if share >= 0.01 else INFO, "Some images are duplicated",
            f"{len(within)} pair(s) of identical or near-identical images ({len(involved)} images, {share:.1%} of the "
            "data) sit in the same split. Copies give those images extra weight in training and in the scores.",
            "Remove the copies unless they are intended (e.g. deliberate oversampling).",
            {"pairs": [_describe(prepared, p) for p in within[:SHOWN]], "pair_count": len(within),
             "share": round(share, 4)},
            pane="samples", paper_item="II-A.3",
        ))
    if conflicts:
        findings.append(Finding(
            "duplicates-conflicting-labels", WARNING, "Identical images carry different labels",
            f"{len(conflicts)} pair(s) of identical or near-identical images have different class labels. At least "
            "one label of each pair is wrong, or the classes cannot be told apart from the image.",
            "Check these pairs and correct or remove the wrong labels.",
            {"pairs": [_describe(prepared, p) for p in conflicts[:SHOWN]], "pair_count": len(conflicts)},
            pane="samples", paper_item="II-A.3",
        ))
    return findings
