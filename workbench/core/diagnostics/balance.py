"""Sections II-B and II-C: too few images per class, and classes of very different sizes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from workbench.core.diagnostics.context import CheckContext
from workbench.core.diagnostics.findings import INFO, WARNING, Finding

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig
    from workbench.core.data.pipeline import PreparedData

IMBALANCE_WARNING = 3.0  # largest / smallest class
IMBALANCE_INFO = 1.5
COARSE_PER_CLASS = 1500  # paper, II-B: studies suggest ~1,500 images per class for category-level tasks
FINE_GRAINED_PER_CLASS = 60  # CUB-200-2011 has about 60 per species


def _train_counts(prepared: PreparedData) -> dict[str, int]:
    counts = prepared.class_counts("train")
    return dict(zip(prepared.class_names, (int(c) for c in counts), strict=True))


def check_imbalance(prepared: PreparedData, config: ProjectConfig, ctx: CheckContext) -> list[Finding]:
    counts = _train_counts(prepared)
    values = np.array(list(counts.values()), dtype=float)
    if len(values) < 2 or values.min() <= 0:
        return []
    ratio = float(values.max() / values.min())
    if ratio < IMBALANCE_INFO:
        return []
    rarest = min(counts, key=counts.__getitem__)
    commonest = max(counts, key=counts.__getitem__)
    weighted = config.training.class_weighting
    balanced_monitor = config.training.monitor in ("val_balanced_accuracy", "val_macro_f1")
    alternatives = []
    if not balanced_monitor:
        alternatives.append({"label": "Choose the best epoch by balanced accuracy",
                             "patch": {"training.monitor": "val_balanced_accuracy"}})
    if not config.preprocessing.augmentation.enabled:
        alternatives.append({"label": "Add augmentation (mirroring, small rotations)",
                             "patch": {"preprocessing.augmentation.hflip": True,
                                       "preprocessing.augmentation.rotation": 10.0}})
    alternatives.append({"label": "Balanced sampling: draw each class equally often (collect more images of the "
                                  "rare classes, or oversample them)", "patch": {}})
    patch: dict = {}
    if not weighted:
        patch["training.class_weighting"] = True
    if not balanced_monitor:
        patch["training.monitor"] = "val_balanced_accuracy"
    severity = WARNING if ratio >= IMBALANCE_WARNING and not weighted else INFO
    handled = " Class weighting is already on." if weighted else ""
    return [Finding(
        "class-imbalance", severity, f"Classes are imbalanced ({ratio:.1f} : 1)",
        f"The training split has {counts[commonest]} images of '{commonest}' but only {counts[rarest]} of "
        f"'{rarest}'. The loss and plain accuracy then reward predicting the common classes: a model can look good "
        "while missing the rare ones (paper, section II-C). Judge it by balanced accuracy and macro F1, which "
        f"Workbench reports beside accuracy.{handled}",
        "Weight the loss by inverse class frequency and pick the best epoch by balanced accuracy; augmentation or "
        "more images of the rare classes also help.",
        {"counts": counts, "ratio": round(ratio, 2), "rarest": rarest, "commonest": commonest,
         "alternatives": alternatives, "metrics_to_watch": ["balanced_accuracy", "macro_f1"]},
        pane="data", patch=patch, paper_item="II-C",
    )]


def check_small_data(prepared: PreparedData, config: ProjectConfig, ctx: CheckContext) -> list[Finding]:
    counts = _train_counts(prepared)
    smallest = min(counts.values()) if counts else 0
    if smallest >= COARSE_PER_CLASS:
        return []
    small = {k: v for k, v in counts.items() if v < COARSE_PER_CLASS}
    model = config.model
    patch: dict = {}
    if model.architecture != "small_cnn" and not model.pretrained:
        patch = {"model.pretrained": True}
        change = "start from pretrained weights (transfer learning)"
    elif model.architecture == "small_cnn" and model.small_cnn.width > 16 and smallest < 300:
        patch = {"model.small_cnn.width": max(8, model.small_cnn.width // 2)}
        change = "use a lower-capacity network (half the width)"
    else:
        change = "use transfer learning or feature extraction from a pretrained network"
    return [Finding(
        "small-data", INFO, f"Few training images per class (smallest class: {smallest})",
        f"{len(small)} of {len(counts)} classes have fewer than {COARSE_PER_CLASS:,} training images. Studies suggest "
        f"about {COARSE_PER_CLASS:,} per class for category-level tasks; fine-grained tasks (bird species, "
        f"~{FINE_GRAINED_PER_CLASS} per class) start with far fewer but are harder (paper, section II-B). Training "
        "from scratch on small data tends to overfit.",
        f"Consider transfer learning or feature extraction from a pretrained network, a lower-capacity model, and "
        f"augmentation. Suggested change: {change}.",
        {"counts": counts, "smallest": smallest, "guidance_per_class": COARSE_PER_CLASS,
         "fine_grained_guidance": FINE_GRAINED_PER_CLASS},
        pane="data", patch=patch, paper_item="II-B",
    )]
