"""Images as the network will see them, rendered back to 8-bit pictures for display."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from workbench.core.config import PreprocessingConfig
from workbench.core.data.preprocess import convert_channels, resize_chw
from workbench.core.data.reading import read_image, value_scale
from workbench.core.data.stats import NormStats, normalize
from workbench.core.data.transforms import augment_batch, build_augmentation


def to_display(image: np.ndarray, scale: float | None = None) -> np.ndarray:
    """HxWxC or CxHxW array (any dtype) to HxWx3 uint8; stretched to its own range when `scale` is None."""
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[2] not in (1, 3):
        array = array.transpose(1, 2, 0)
    if array.ndim == 2:
        array = array[:, :, None]
    if scale is None:
        low, high = float(array.min()), float(array.max())
        array = (array - low) / (high - low) if high > low else np.zeros_like(array)
    else:
        array = array / scale
    array = np.clip(array * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(array, 3, axis=2) if array.shape[2] == 1 else array


def _prepared(path: str | Path, cfg: PreprocessingConfig) -> tuple[np.ndarray, torch.Tensor, float]:
    image = read_image(path)
    scale = value_scale(image.dtype)
    channels = cfg.channels if cfg.channels != "auto" else ("grayscale" if image.shape[2] == 1 else "rgb")
    resized = resize_chw(convert_channels(image, channels), cfg.image_size, cfg.resize_mode)
    return image, torch.from_numpy(resized)[None] / scale, scale


def network_input(path: str | Path, cfg: PreprocessingConfig, stats: NormStats | None = None) -> np.ndarray:
    """The CxSxS float array fed to the network for this file (without augmentation)."""
    _image, batch, scale = _prepared(path, cfg)
    if stats is None:
        channels = batch.shape[1]
        stats = NormStats(cfg.normalization, [0.5] * channels, [0.25] * channels, 0.0, 1.0, scale)
    return normalize(batch, stats)[0].numpy()


def network_view(path: str | Path, cfg: PreprocessingConfig, stats: NormStats | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(original picture, network input rendered for display), both HxWx3 uint8."""
    image = read_image(path)
    original = to_display(image, None if image.dtype.kind == "f" else value_scale(image.dtype))
    return original, to_display(network_input(path, cfg, stats))


def augmented_views(path: str | Path, cfg: PreprocessingConfig, n: int = 8, seed: int = 0) -> list[np.ndarray]:
    """`n` random augmentations of one file as the training loop would draw them, HxWx3 uint8."""
    _, batch, _ = _prepared(path, cfg)
    transform = build_augmentation(cfg.augmentation, cfg.image_size)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        views = augment_batch(batch.repeat(n, 1, 1, 1), transform)
    finally:
        torch.random.set_rng_state(generator_state)
    return [to_display(v.numpy(), 1.0) for v in views]
