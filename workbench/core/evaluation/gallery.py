"""The misclassified gallery: the worst errors (most confident wrong predictions) with saliency overlays."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from workbench.core.data.stats import normalize
from workbench.core.evaluation.saliency import overlay, saliency_maps
from workbench.core.runs import write_json

if TYPE_CHECKING:
    from workbench.core.evaluation.inference import EvalSet
    from workbench.core.evaluation.loaded_run import LoadedRun


@dataclass
class GalleryItem:
    path: str
    true_label: str
    predicted: str
    confidence: float  # of the (wrong) predicted class
    true_probability: float
    method: str  # "Grad-CAM" or "Occlusion"
    overlay: np.ndarray = field(repr=False)  # H×W×3 uint8: evidence for the predicted class
    image: np.ndarray = field(repr=False)  # H×W×3 uint8: the input as the network saw it, enlarged
    png: str = ""  # file name once saved

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("overlay")
        data.pop("image")
        return data


def worst_errors(probs: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Positions of the `k` misclassified images with the highest confidence in their wrong prediction."""
    if len(labels) == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64)
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != labels)
    confidence = probs[wrong, pred[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")[:k]]


def misclassified_gallery(run: LoadedRun, images: EvalSet, probs: np.ndarray, k: int = 12) -> list[GalleryItem]:
    """The worst `k` errors, each with a saliency overlay showing what drove the wrong prediction."""
    from workbench.core.evaluation.saliency import DISPLAY_SIDE

    positions = worst_errors(probs, images.labels, k)
    if len(positions) == 0:
        return []
    x01 = images.load(positions)
    pred = probs[positions].argmax(axis=1)
    maps, method = saliency_maps(run.model, normalize(x01, run.stats).to(run.device),
                                 torch.from_numpy(pred).to(run.device))
    items = []
    for j, pos in enumerate(positions):
        p, t = int(pred[j]), int(images.labels[pos])
        plain = overlay(x01[j].numpy(), np.zeros(x01.shape[-2:], np.float32), alpha=0.0, side=DISPLAY_SIDE)
        items.append(GalleryItem(
            images.paths[pos], run.class_names[t], run.class_names[p], float(probs[pos, p]), float(probs[pos, t]),
            method, overlay(x01[j].numpy(), maps[j]), plain,
        ))
    return items


def save_gallery(items: list[GalleryItem], folder: Path) -> Path:
    """Write one PNG per item (the image beside its overlay) and gallery.json; returns the JSON path."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("error_*.png"):
        old.unlink()
    for i, item in enumerate(items):
        gap = np.full((item.image.shape[0], 4, 3), 255, np.uint8)
        item.png = f"error_{i + 1:02d}.png"
        Image.fromarray(np.concatenate([item.image, gap, item.overlay], axis=1)).save(folder / item.png)
    path = folder / "gallery.json"
    write_json(path, [item.to_dict() for item in items])
    return path
