"""A stated memory budget for decoding images, so a few huge files never take the machine down.

Decoded size, not file size or pixel count, is what costs memory: a 1 MB TIFF of 9000×9000 RGBA 16-bit
decodes to 648 MB, and conversion to float multiplies that. So each image's decoded size is estimated
from its header before decoding; an image over the per-image cap is reduced while it is read (JPEG draft
mode, memory-mapped TIFF pages, box-filter reduction), and concurrent decodes share one byte budget, so
a big image decodes alone. Peak working memory stays near DECODE_BUDGET_BYTES (1 GiB by default,
`WORKBENCH_DECODE_BUDGET` in bytes to change it).
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path

import numpy as np

DECODE_BUDGET_BYTES = int(os.environ.get("WORKBENCH_DECODE_BUDGET", 1024**3))
# Reading, compositing alpha, converting channels and resizing in float32 need up to ~6 times the decoded size.
WORK_FACTOR = 6
_BAND_BYTES = {"I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2, "I": 4, "F": 4}


def per_image_cap(budget: int | None = None) -> int:
    """Largest decoded size, in bytes, an image may have before it is reduced while reading."""
    return max(1, (budget or DECODE_BUDGET_BYTES) // WORK_FACTOR)


def estimate_decoded_bytes(path: str | Path) -> int:
    """Bytes the image takes once decoded, from its header only (0 when the header cannot be read)."""
    from PIL import Image

    try:
        if Path(path).suffix.lower() in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                page = tif.pages[0]
                return int(np.prod(page.shape, dtype=np.int64)) * page.dtype.itemsize
        with Image.open(path) as image:
            return image.width * image.height * len(image.getbands()) * _BAND_BYTES.get(image.mode, 1)
    except Exception:  # an unreadable header is reported when the image is read
        return 0


def reduction_factor(decoded_bytes: int, cap: int) -> int:
    """Integer factor per side that brings `decoded_bytes` under `cap` (1 when it already fits)."""
    if decoded_bytes <= cap:
        return 1
    return math.ceil(math.sqrt(decoded_bytes / cap))


def block_reduce(array: np.ndarray, factor: int, chunk_bytes: int | None = None) -> np.ndarray:
    """Mean of factor×factor blocks of an H×W(×C) array, in row chunks, so a memory-mapped input is never
    loaded whole. Integer images keep their dtype (rounded)."""
    # Each chunk is held about three times (float copy, partial sums): keep that well inside the per-image cap.
    chunk_bytes = chunk_bytes or max(256 * 1024, min(16 * 1024**2, per_image_cap() // 4))
    if factor <= 1:
        return np.asarray(array)
    height, width = (array.shape[0] // factor) * factor, (array.shape[1] // factor) * factor
    if height == 0 or width == 0:
        return np.asarray(array[:1, :1])
    rest = array.shape[2:]
    out = np.empty((height // factor, width // factor, *rest), dtype=array.dtype)  # no full-size float copy
    row_bytes = width * factor * int(np.prod(rest, dtype=np.int64)) * 4
    rows = max(1, chunk_bytes // max(row_bytes, 1))  # output rows per chunk
    integer = array.dtype.kind in "iub"
    if integer:
        info = np.iinfo(array.dtype) if array.dtype.kind != "b" else None
        low, high = (info.min, info.max) if info is not None else (0, 1)
    for start in range(0, height // factor, rows):
        stop = min(height // factor, start + rows)
        block = np.asarray(array[start * factor:stop * factor, :width], dtype=np.float32)
        block = block.reshape(stop - start, factor, width // factor, factor, *rest).sum(axis=3)
        mean = block.sum(axis=1) / (factor * factor)
        out[start:stop] = np.clip(np.rint(mean), low, high) if integer else mean
    return out


def target_factor(height: int, width: int, target_side: int | None) -> int:
    """A reduction that still leaves 4× the network's input on the short side (for clean antialiasing)."""
    if not target_side:
        return 1
    return max(1, min(height, width) // (4 * target_side))


class ByteBudget:
    """A counting semaphore in bytes: a task waits until its cost fits beside the running ones, and a task
    costing more than the whole budget runs alone."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.in_use = 0
        self._cond = threading.Condition()

    def acquire(self, cost: int) -> int:
        cost = min(max(cost, 0), self.total)
        with self._cond:
            while self.in_use and self.in_use + cost > self.total:
                self._cond.wait()
            self.in_use += cost
        return cost

    def release(self, cost: int) -> None:
        with self._cond:
            self.in_use -= cost
            self._cond.notify_all()
