"""Test data made on the fly: small synthetic image datasets whose classes a tiny CNN can tell apart."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

from workbench.core.config import ProjectConfig


def shape_image(kind: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """A greyscale image of class `kind`: 0 = bright square, 1 = horizontal bar, 2 = vertical bar, 3 = ring."""
    img = rng.normal(40, 12, (size, size))
    c = size // 2 + rng.integers(-2, 3, 2)
    r = max(2, size // 4)
    yy, xx = np.mgrid[:size, :size]
    if kind == 0:
        img[max(0, c[0] - r):c[0] + r, max(0, c[1] - r):c[1] + r] = 220
    elif kind == 1:
        img[max(0, c[0] - 1):c[0] + 2, 2:-2] = 220
    elif kind == 2:
        img[2:-2, max(0, c[1] - 1):c[1] + 2] = 220
    else:
        d = np.hypot(yy - c[0], xx - c[1])
        img[(d > r - 1.5) & (d < r + 0.5)] = 220
    return np.clip(img, 0, 255).astype(np.uint8)


def write_shapes_dataset(root: Path, classes: int = 3, per_class: int = 30, size: int = 16, seed: int = 0,
                         counts: list[int] | None = None, colour: bool = False, corrupt: bool = False) -> Path:
    """One folder per class (square, hbar, vbar, ring) of greyscale PNGs, or RGB ones tinted at random with
    `colour` (as most users' images are); `corrupt` adds an unreadable square/broken.png."""
    rng = np.random.default_rng(seed)
    names = ["square", "hbar", "vbar", "ring"][:classes]
    for k, name in enumerate(names):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range((counts or [per_class] * classes)[k]):
            image = shape_image(k, size, rng)
            if colour:
                image = np.clip(image[..., None] * rng.uniform(0.6, 1.0, 3), 0, 255).astype(np.uint8)
            Image.fromarray(image).save(folder / f"{name}_{i:03d}.png")
    if corrupt:
        (root / names[0] / "broken.png").write_bytes(b"this is not a png")
    return root


def tiny_config(dataset: Path, runs_dir: Path, **training: object) -> ProjectConfig:
    """A config that trains in a second or two on CPU."""
    config = ProjectConfig(name="tiny", runs_dir=str(runs_dir))
    config.data.source = str(dataset)
    config.preprocessing.image_size = 16
    config.model.small_cnn.width = 8
    config.model.small_cnn.depth = 2
    config.training.epochs = 2
    config.training.batch_size = 16
    config.training.lr = 3e-3
    # The pitfall doctor and projections have their own tests; here they would only slow every run down.
    config.diagnostics.enabled = False
    for key, value in training.items():
        setattr(config.training, key, value)
    return config


def strategy_config(dataset: Path, runs: Path, name: str, epochs: int = 2, **params: object) -> ProjectConfig:
    """`tiny_config` with strategy `name` and strategy settings `params`."""
    config = tiny_config(dataset, runs, epochs=epochs)
    config.strategy.name = name
    for key, value in params.items():
        setattr(config.strategy, key, value)
    return config


def without_validation(run_dir: Path) -> None:
    """Rewrite a run's split.csv so its validation images count as training images (a run with no val split)."""
    manifest = run_dir / "split.csv"
    with manifest.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with manifest.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**r, "split": "train" if r["split"] == "val" else r["split"]} for r in rows)


def write_digits_dataset(root: Path, classes: int = 4, per_class: int = 20, size: int = 16) -> Path:
    """Real scanned handwritten digits (scikit-learn's 8×8 set), enlarged to `size` px, one folder per digit."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    for digit in range(classes):
        folder = root / f"digit_{digit}"
        folder.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(digits.images[digits.target == digit][:per_class]):
            pixels = (image * (255 / 16)).astype(np.uint8)
            Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR).save(folder / f"{i:03d}.png")
    return root
