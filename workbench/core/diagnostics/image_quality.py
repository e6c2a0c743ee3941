"""Checklist item 3 (data quality): files that could not be read, and constant or almost blank images."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from workbench.core.diagnostics.context import CheckContext
from workbench.core.diagnostics.findings import INFO, WARNING, Finding

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig
    from workbench.core.data.pipeline import PreparedData

BLANK_SPREAD = 0.02  # an image whose contrast is under 2% of the dataset's typical contrast looks blank
SHOWN = 50


def check_unreadable_files(prepared: PreparedData, config: ProjectConfig, ctx: CheckContext) -> list[Finding]:
    skipped = prepared.skipped
    if not skipped:
        return []
    total = len(skipped) + len(prepared.samples)
    share = len(skipped) / max(total, 1)
    return [Finding(
        "unreadable-files", WARNING if share >= 0.01 else INFO, f"{len(skipped)} file(s) could not be used",
        f"{len(skipped)} of {total} files ({share:.1%}) are damaged, empty or not images, and were left out. If they "
        "belong to one class, that class is smaller than it looks in the folder.",
        "Replace or delete the damaged files; the list gives the reason for each.",
        {"files": [{"path": s.path, "reason": s.reason} for s in skipped[:SHOWN]], "count": len(skipped),
         "share": round(share, 4)},
        pane="data", paper_item="II-A.3",
    )]


def image_spreads(prepared: PreparedData, ctx: CheckContext) -> np.ndarray:
    """Per-image contrast: the 99th minus the 1st percentile of its raw cached values."""
    array = prepared.images.array
    spreads = np.empty(len(array))
    for start in range(0, len(array), 512):
        ctx.check_stop()
        block = np.asarray(array[start:start + 512], dtype=np.float32).reshape(min(512, len(array) - start), -1)
        low, high = np.percentile(block, [1, 99], axis=1)
        spreads[start:start + len(block)] = high - low
    return spreads


def check_blank_images(prepared: PreparedData, config: ProjectConfig, ctx: CheckContext) -> list[Finding]:
    spreads = image_spreads(prepared, ctx)
    typical = float(np.median(spreads))
    if typical <= 0:
        constant = np.ones(len(spreads), dtype=bool)
    else:
        constant = spreads <= BLANK_SPREAD * typical
    if not constant.any():
        return []
    rows = np.flatnonzero(constant)
    names = prepared.class_names
    per_class: dict[str, int] = {}
    for i in rows:
        per_class[names[int(prepared.labels[i])]] = per_class.get(names[int(prepared.labels[i])], 0) + 1
    return [Finding(
        "blank-images", WARNING, f"{len(rows)} image(s) are constant or almost blank",
        f"{len(rows)} image(s) show (almost) no contrast at the network's input size, e.g. empty fields of view, "
        "failed exposures or padding frames. They teach the network nothing about the object, and if they are "
        "concentrated in one class they become a shortcut to that label.",
        "Look at these images and remove them, or give them their own 'empty' class if they are expected.",
        {"images": [{"path": prepared.samples[int(i)].path, "label": names[int(prepared.labels[i])],
                     "split": prepared.splits[int(i)]} for i in rows[:SHOWN]],
         "count": len(rows), "per_class": per_class, "typical_contrast": typical},
        pane="samples", paper_item="II-A.3",
    )]
