"""Small synthetic datasets with planted faults, for the diagnostics and projection tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from workbench.core.config import ProjectConfig


def save_png(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image if image.dtype == np.uint16 else image.astype(np.uint8)).save(path)
    return path


def write_classes(root: Path, images: dict[str, list[np.ndarray]], split: str | None = None) -> Path:
    """One folder per class (under root/<split>/ when a split is given); returns the dataset root."""
    base = root / split if split else root
    for label, items in images.items():
        for i, image in enumerate(items):
            save_png(base / label / f"{label}_{i:04d}.png", image)
    return root


def bars(n: int, horizontal: bool, rng: np.random.Generator, size: int = 16) -> list[np.ndarray]:
    """Grey images with one bright bar (horizontal or vertical) at a random place, over mild noise."""
    out = []
    for _ in range(n):
        image = rng.integers(0, 60, (size, size)).astype(np.float32)
        pos = rng.integers(2, size - 2)
        if horizontal:
            image[pos - 1:pos + 1, 2:size - 2] = 220
        else:
            image[2:size - 2, pos - 1:pos + 1] = 220
        out.append(image.astype(np.uint8))
    return out


def bars_dataset(root: Path, per_class: int = 60, seed: int = 0, size: int = 16) -> Path:
    rng = np.random.default_rng(seed)
    return write_classes(root, {"horizontal": bars(per_class, True, rng, size), "vertical": bars(per_class, False, rng, size)})


def stripes(n: int, vertical: bool, rng: np.random.Generator, size: int = 32) -> list[np.ndarray]:
    """Fine stripes of period 2 pixels with a random phase and contrast: invisible once shrunk a lot."""
    out = []
    for _ in range(n):
        phase = rng.integers(0, 2)
        line = ((np.arange(size) + phase) % 2).astype(np.float32)
        pattern = np.tile(line, (size, 1)) if vertical else np.tile(line[:, None], (1, size))
        contrast = rng.uniform(80, 160)
        image = 128 + contrast * (pattern - 0.5) + rng.normal(0, 8, (size, size))
        out.append(np.clip(image, 0, 255).astype(np.uint8))
    return out


def noise(n: int, rng: np.random.Generator, size: int = 16, high: int = 160) -> list[np.ndarray]:
    return [rng.integers(0, high, (size, size)).astype(np.uint8) for _ in range(n)]


def digits(classes: tuple[int, ...], per_class: int) -> dict[str, list[np.ndarray]]:
    """Real 8×8 digit scans from scikit-learn, stretched to 0–255."""
    from sklearn.datasets import load_digits

    data = load_digits()
    out: dict[str, list[np.ndarray]] = {}
    for c in classes:
        rows = np.flatnonzero(data.target == c)[:per_class]
        out[f"d{c}"] = [np.round(data.images[r] * 255 / 16).astype(np.uint8) for r in rows]
    return out


def animal_mnist(classes: tuple[int, ...], per_class: int, offset: int = 0) -> dict[str, list[np.ndarray]]:
    """Real 28×28 animal drawings from the animal_mnist package (read as its gzip pickle), `per_class` of each,
    starting at `offset` within each class (so train and validation sets can be disjoint)."""
    import gzip
    import pickle

    import animal_mnist as package

    folder = Path(package.__file__).parent / "data" / "Animal_MNIST"
    with gzip.open(folder / "animal_data_version_3.gz") as handle:
        images = pickle.load(handle)
    with gzip.open(folder / "animal_label_version_3.gz") as handle:
        labels = np.asarray(pickle.load(handle)).astype(int)
    out: dict[str, list[np.ndarray]] = {}
    for c in classes:
        rows = np.flatnonzero(labels == c)[offset:offset + per_class]
        out[f"a{c}"] = [np.asarray(images[r], dtype=np.uint8) for r in rows]
    return out


def small_config(source: Path, runs: Path, **training) -> ProjectConfig:
    """A quick project: 16 px, a narrow two-stage CNN, two epochs."""
    config = ProjectConfig(name="diag-test", runs_dir=str(runs))
    config.data.source = str(source)
    config.data.val_fraction = 0.2
    config.data.test_fraction = 0.2
    config.preprocessing.image_size = 16
    config.model.small_cnn.width = 8
    config.model.small_cnn.depth = 2
    config.model.small_cnn.dropout = 0.0
    config.training.epochs = 2
    config.training.batch_size = 32
    config.training.device = "cpu"
    for key, value in training.items():
        setattr(config.training, key, value)
    return config


def codes(findings) -> dict[str, str]:
    """code -> severity of findings or FindingRaised events."""
    return {f.code: f.severity for f in findings}
