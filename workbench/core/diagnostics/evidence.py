"""Small images written as evidence: side-by-side comparisons and heat maps, as PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def _to_uint8(image: np.ndarray) -> np.ndarray:
    low, high = float(np.min(image)), float(np.max(image))
    scaled = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return np.clip(np.rint(scaled * 255), 0, 255).astype(np.uint8)


def _fit(image: np.ndarray, side: int) -> Image.Image:
    """A 0–1 greyscale array as a square PIL image of `side` pixels; small images keep sharp pixels."""
    pil = Image.fromarray(np.clip(np.rint(image * 255), 0, 255).astype(np.uint8), mode="L")
    resample = Image.Resampling.NEAREST if pil.width < side else Image.Resampling.LANCZOS
    return pil.resize((side, side), resample)


def save_side_by_side(pairs: list[tuple[np.ndarray, np.ndarray]], path: Path, side: int = 128, gap: int = 4) -> Path:
    """Rows of (original, what the network sees) greyscale 0–1 images, written as one PNG."""
    canvas = Image.new("L", (2 * side + 3 * gap, len(pairs) * (side + gap) + gap), color=255)
    for row, (left, right) in enumerate(pairs):
        top = gap + row * (side + gap)
        canvas.paste(_fit(left, side), (gap, top))
        canvas.paste(_fit(right, side), (2 * gap + side, top))
    canvas.save(path)
    return path


def save_heatmaps(maps: list[np.ndarray], path: Path, side: int = 96, gap: int = 4) -> Path:
    """Heat maps (any range) side by side in one PNG, each stretched to its own range, hot colours."""
    canvas = Image.new("RGB", (len(maps) * (side + gap) + gap, side + 2 * gap), color=(255, 255, 255))
    for i, heat in enumerate(maps):
        grey = _to_uint8(heat).astype(np.float32) / 255.0
        rgb = np.stack([np.clip(3 * grey, 0, 1), np.clip(3 * grey - 1, 0, 1), np.clip(3 * grey - 2, 0, 1)], axis=-1)
        pil = Image.fromarray(np.rint(rgb * 255).astype(np.uint8), mode="RGB")
        pil = pil.resize((side, side), Image.Resampling.NEAREST)
        canvas.paste(pil, (gap + i * (side + gap), gap))
    canvas.save(path)
    return path
