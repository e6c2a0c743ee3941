"""Normalisation statistics, computed on the training split only, and their application to batches."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench.core.io import atomic_write_bytes

if TYPE_CHECKING:
    import torch


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class NormStats:
    """Statistics of training pixels scaled to 0–1 (raw value / value_scale)."""

    mode: str
    mean: list[float]
    std: list[float]
    minimum: float
    maximum: float
    value_scale: float

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> NormStats:
        """Raises ValueError naming what is missing or wrong (a damaged norm_stats.json)."""
        keys = ("mode", "mean", "std", "minimum", "maximum", "value_scale")
        if not isinstance(data, dict) or any(k not in data for k in keys):
            have = ", ".join(sorted(data)) if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"the normalisation statistics are incomplete: they need {', '.join(keys)} (found: {have})")
        try:
            stats = cls(str(data["mode"]), [float(v) for v in data["mean"]], [float(v) for v in data["std"]],
                        float(data["minimum"]), float(data["maximum"]), float(data["value_scale"]))
        except (TypeError, ValueError):
            raise ValueError("the normalisation statistics hold values that are not numbers") from None
        if stats.value_scale <= 0 or len(stats.mean) != len(stats.std) or not stats.mean:
            raise ValueError("the normalisation statistics are inconsistent (empty, unequal lengths or a scale <= 0)")
        return stats

    def save(self, path: Path) -> None:
        atomic_write_bytes(path, json.dumps(self.to_dict(), indent=2).encode())

    @classmethod
    def load(cls, path: Path) -> NormStats:
        return cls.from_dict(json.loads(path.read_text()))


def compute_norm_stats(array: np.ndarray, indices: Sequence[int], mode: str, scale: float,
                       chunk: int = 512) -> NormStats:
    """Per-channel mean and std, and global min and max, of the rows `indices` of the cache."""
    channels = array.shape[1]
    total = np.zeros(channels)
    total_sq = np.zeros(channels)
    low, high = np.inf, -np.inf
    count = 0
    order = np.sort(np.asarray(indices, dtype=np.int64))
    for start in range(0, len(order), chunk):
        block = array[order[start:start + chunk]].astype(np.float64) / scale
        total += block.sum(axis=(0, 2, 3))
        total_sq += (block**2).sum(axis=(0, 2, 3))
        low, high = min(low, float(block.min())), max(high, float(block.max()))
        count += block.shape[0] * block.shape[2] * block.shape[3]
    if count == 0:
        raise ValueError("no training images to compute statistics from")
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    std = np.where(std < 1e-6, 1.0, std)  # a constant channel is left unscaled rather than blown up
    return NormStats(mode, mean.tolist(), std.tolist(), low, high, scale)


def normalize(batch: torch.Tensor, stats: NormStats) -> torch.Tensor:
    """Map a float batch of 0–1 scaled pixels (N×C×H×W) to the network's input scale."""
    import torch

    mode = stats.mode
    if mode == "none":
        return batch * stats.value_scale  # raw pixel values, as stored on disk
    if mode == "minmax":
        return (batch - stats.minimum) / max(stats.maximum - stats.minimum, 1e-6)
    channels = batch.shape[1]
    if mode == "zscore":
        mean, std = stats.mean, stats.std
    elif mode == "imagenet":
        mean, std = list(IMAGENET_MEAN), list(IMAGENET_STD)
        if channels == 1:
            mean, std = [float(np.mean(mean))], [float(np.mean(std))]
    else:
        raise ValueError(f"unknown normalisation {mode!r}")
    m = torch.tensor(mean, dtype=batch.dtype, device=batch.device).view(1, channels, 1, 1)
    s = torch.tensor(std, dtype=batch.dtype, device=batch.device).view(1, channels, 1, 1)
    return (batch - m) / s


def denormalize(batch: torch.Tensor, stats: NormStats) -> torch.Tensor:
    """Inverse of `normalize`, back to 0–1 scaled pixels (for previews and saliency overlays)."""
    import torch

    mode = stats.mode
    if mode == "none":
        return batch / stats.value_scale
    if mode == "minmax":
        return batch * max(stats.maximum - stats.minimum, 1e-6) + stats.minimum
    channels = batch.shape[1]
    mean, std = (stats.mean, stats.std) if mode == "zscore" else (list(IMAGENET_MEAN), list(IMAGENET_STD))
    if mode == "imagenet" and channels == 1:
        mean, std = [float(np.mean(mean))], [float(np.mean(std))]
    m = torch.tensor(mean, dtype=batch.dtype).view(1, channels, 1, 1)
    s = torch.tensor(std, dtype=batch.dtype).view(1, channels, 1, 1)
    return batch * s + m
