"""Checklist item 2: is the input normalised, and do all images use the same range of values?

Three things go wrong in practice: raw 0–255 or 0–65535 values fed to the network; a scaling that
squeezes most images into a sliver of the range (one bright outlier under min–max); and images that
were exported differently (some using 0–50, others 0–255, or 8- and 16-bit files mixed).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from workbench.core.data.stats import normalize
from workbench.core.diagnostics.context import CheckContext
from workbench.core.diagnostics.findings import PROBLEM, WARNING, Finding, passed_finding

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig
    from workbench.core.data.pipeline import PreparedData

SAMPLE = 2000
RANGE_RATIO = 3.0  # typical brightest values of two groups of images this far apart count as inconsistent
_EIGHT_BIT_MODES = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV"}


def _sample_rows(n: int, ctx: CheckContext, salt: int, limit: int = SAMPLE) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(ctx.rng(salt).choice(n, limit, replace=False))


def check_normalisation(prepared: PreparedData, config: ProjectConfig, ctx: CheckContext) -> list[Finding]:
    """Feeds a sample of training images through the configured normalisation and looks at the numbers."""
    train = prepared.indices("train")
    rows = np.sort(train[_sample_rows(len(train), ctx, 2, 256)])
    scale = prepared.images.value_scale
    x = normalize(torch.from_numpy(np.asarray(prepared.images.array[rows], dtype=np.float32) / scale), prepared.stats)
    mean, std, peak = float(x.mean()), float(x.std()), float(x.abs().max())
    mode = prepared.stats.mode
    evidence = {"normalization": mode, "input_mean": round(mean, 4), "input_std": round(std, 4),
                "input_max_abs": round(peak, 4), "raw_min": prepared.stats.minimum * scale,
                "raw_max": prepared.stats.maximum * scale, "value_scale": scale}
    if mode == "none" and (peak > 10 or std > 5):
        return [Finding(
            "input-not-normalised", PROBLEM, "The network is fed raw, unnormalised pixel values",
            f"Pixel values reach {peak:.0f} (mean {mean:.1f}, spread {std:.1f}). Deep networks train badly on "
            "arbitrary ranges: the first layers saturate, the initial loss is far too high, and learning is slow or "
            "diverges (paper, checklist item 2 and Fig. 4a–b).",
            "Choose z-score normalisation (statistics of the training split), or min–max scaling.",
            evidence, pane="data", patch={"preprocessing.normalization": "zscore"}, paper_item="II-A.2",
        )]
    if std < 0.05 and mode in ("minmax", "none", "imagenet"):
        return [Finding(
            "input-range-squeezed", WARNING, "Most input values are squeezed into a narrow range",
            f"After the '{mode}' scaling the input varies by only {std:.3f} around {mean:.3f}. A few extreme pixels "
            "(or a dark, high-bit-depth dataset) set the scale, so the network sees almost flat images.",
            "Use z-score normalisation, which scales by the spread of the training pixels.",
            evidence, pane="data", patch={"preprocessing.normalization": "zscore"}, paper_item="II-A.2",
        )]
    source = {"zscore": "z-score from the training split", "minmax": "min–max from the training split",
              "imagenet": "ImageNet statistics", "none": "no normalisation"}.get(mode, f"'{mode}' normalisation")
    return [passed_finding(
        "input-normalised", "The input is normalised",
        f"{source}: input mean {mean:.2f}, std {std:.2f}, largest |value| {peak:.1f} over {len(rows):,} training "
        "images", evidence, "data", "II-A.2")]


def _gap_groups(tops: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Split sorted per-image maxima at their largest multiplicative gap; None when no group is big enough."""
    positive = np.clip(tops, 1e-9, None)
    order = np.argsort(positive)
    logs = np.log(positive[order])
    n = len(logs)
    least = max(2, int(0.05 * n))
    if n < 2 * least:
        return None
    gaps = np.diff(logs)[least - 1:n - least]
    k = int(np.argmax(gaps)) + least
    high = np.zeros(n, dtype=bool)
    high[order[k:]] = True
    return high, float(np.exp(gaps.max()))


def check_intensity_ranges(prepared: PreparedData, config: ProjectConfig, ctx: CheckContext) -> list[Finding]:
    """Images whose brightest values differ several-fold in two distinct groups were likely exported differently."""
    rows = _sample_rows(len(prepared.labels), ctx, 3)
    scale = prepared.images.value_scale
    tops = np.empty(len(rows))
    for start in range(0, len(rows), 256):
        ctx.check_stop()
        block = np.asarray(prepared.images.array[rows[start:start + 256]], dtype=np.float32)
        tops[start:start + 256] = np.percentile(block.reshape(len(block), -1), 99.5, axis=1)
    split = _gap_groups(tops)
    if split is None:
        return []
    high, gap = split
    low_median, high_median = float(np.median(tops[~high])), float(np.median(tops[high]))
    if low_median <= 0 or high_median / max(low_median, 1e-9) < RANGE_RATIO or gap < 1.5:
        return []
    examples_low = [prepared.samples[int(i)].path for i in rows[~high][:5]]
    examples_high = [prepared.samples[int(i)].path for i in rows[high][:5]]
    share_low = float((~high).mean())
    return [Finding(
        "inconsistent-intensity-ranges", WARNING, "Images use different ranges of values",
        f"{share_low:.0%} of the images reach only about {low_median:.0f} while the others reach about {high_median:.0f} "
        f"(of {scale:.0f} possible). Images exported with different settings or bit depths look like different "
        "classes to the network, and a normalisation computed over all of them fits neither group.",
        "Export every image with the same bit depth and scaling, or rescale each group before importing.",
        {"low_group_max": low_median, "high_group_max": high_median, "low_group_share": round(share_low, 3),
         "examples_low": examples_low, "examples_high": examples_high, "images_checked": len(rows)},
        pane="data", paper_item="II-A.2",
    )]


def _bit_depth(path: str) -> str:
    suffix = Path(path).suffix.lower()
    try:
        if suffix in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                kind = tif.pages[0].dtype
            if kind is None:
                return "unknown"
            kind = np.dtype(kind)
            return "float" if kind.kind == "f" else f"{8 * kind.itemsize}-bit"
        from PIL import Image

        with Image.open(path) as image:
            mode = image.mode
    except Exception:  # an unreadable header is the corrupt-file check's business
        return "unknown"
    if mode in _EIGHT_BIT_MODES:
        return "8-bit"
    if mode.startswith("I;16") or mode == "I":
        return "16-bit"
    return "float" if mode == "F" else "unknown"


def check_bit_depths(prepared: PreparedData, config: ProjectConfig, ctx: CheckContext) -> list[Finding]:
    rows = _sample_rows(len(prepared.samples), ctx, 4, 400)
    depths: dict[str, list[str]] = {}
    for i in rows:
        ctx.check_stop()
        path = prepared.samples[int(i)].path
        depths.setdefault(_bit_depth(path), []).append(path)
    depths.pop("unknown", None)
    if len(depths) < 2:
        return []
    counts = {k: len(v) for k, v in depths.items()}
    return [Finding(
        "mixed-bit-depths", WARNING, "The dataset mixes bit depths",
        f"Among {len(rows)} files checked: {', '.join(f'{n} {k}' for k, n in sorted(counts.items()))}. Workbench "
        "rescales them to one range, but images saved at different depths were often captured or exported with "
        "different settings, which the network can learn instead of the classes.",
        "Export all images at the same bit depth with the same scaling.",
        {"counts": counts, "examples": {k: v[:3] for k, v in depths.items()}}, pane="data", paper_item="II-A.2",
    )]
