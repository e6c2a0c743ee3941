"""Helpers for the GUI tests: a generated dataset of simple shapes and a tiny training configuration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "cross")


def draw_shape(shape: str, size: int, rng: np.random.Generator) -> Image.Image:
    """A light shape on a dark, slightly noisy background, jittered in position and size."""
    background = rng.integers(0, 40, (size, size), dtype=np.uint8)
    image = Image.fromarray(background, mode="L").convert("RGB")
    draw = ImageDraw.Draw(image)
    margin = int(rng.integers(1, max(2, size // 5)))
    box = (margin, margin, size - 1 - margin, size - 1 - margin)
    color = tuple(int(c) for c in rng.integers(180, 256, 3))
    if shape == "circle":
        draw.ellipse(box, outline=color, width=2)
    elif shape == "square":
        draw.rectangle(box, outline=color, width=2)
    else:
        middle = size // 2
        draw.line((margin, middle, size - 1 - margin, middle), fill=color, width=2)
        draw.line((middle, margin, middle, size - 1 - margin), fill=color, width=2)
    return image


def write_shapes_dataset(root: Path, per_class: int = 30, size: int = 16, seed: int = 0,
                         corrupt: bool = True) -> Path:
    rng = np.random.default_rng(seed)
    for shape in SHAPES:
        folder = root / shape
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            draw_shape(shape, size, rng).save(folder / f"{shape}_{i:03d}.png")
    if corrupt:
        (root / "circle" / "broken.png").write_bytes(b"this is not a png")
    return root


TINY_TRAINING = {
    "preprocessing.image_size": 16,
    "model.architecture": "small_cnn",
    "model.small_cnn.width": 8,
    "model.small_cnn.depth": 2,
    "training.epochs": 2,
    "training.batch_size": 16,
    "training.lr": 0.003,
    "training.device": "cpu",
    "export.onnx": False,
    "evaluation.gallery_size": 0,
    "evaluation.bootstrap_samples": 50,
}
