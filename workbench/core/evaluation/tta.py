"""Test-time augmentation (paper, section VI-B): predict several transformed views of each image and combine them.

The list of augmentations is the catalog's (`workbench.core.catalog.tta`); this module makes their views.
Views are made from batches of 0–1 scaled images (N×C×H×W) before normalisation. Combination rules:
- `mean`: the mean of the views' class probabilities;
- `vote`: majority vote of the views' predicted classes; ties go to the class with the higher mean probability.
  Its "probabilities" are the vote shares, so they still sum to one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF

from workbench.core.catalog import resolve
from workbench.core.catalog.tta import COMBINE_RULES, TTA_AUGMENTATIONS, TtaInfo, check_tta

__all__ = ["COMBINE_RULES", "TTA_AUGMENTATIONS", "TtaInfo", "check_tta", "combine", "make_views", "shift_image"]

Views = Callable[[torch.Tensor], list[torch.Tensor]]


def shift_image(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Translate by (dx, dy) pixels, filling with the nearest edge pixels rather than black."""
    pad = max(abs(dx), abs(dy))
    if pad == 0:
        return x
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    h, w = x.shape[-2:]
    top, left = pad - dy, pad - dx
    return padded[..., top:top + h, left:left + w]


def shift_views(x: torch.Tensor) -> list[torch.Tensor]:
    step = max(1, round(x.shape[-1] * 0.0625))  # 1/16 of the side: a small shift
    return [shift_image(x, dx, dy) for dx, dy in ((step, 0), (-step, 0), (0, step), (0, -step))]


def rotate_views(x: torch.Tensor) -> list[torch.Tensor]:
    return [TF.rotate(x, angle, interpolation=TF.InterpolationMode.BILINEAR) for angle in (-10.0, 10.0)]


def zoom_views(x: torch.Tensor) -> list[torch.Tensor]:
    h, w = x.shape[-2:]
    ch, cw = max(1, round(h * 0.9)), max(1, round(w * 0.9))
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = x[..., top:top + ch, left:left + cw]
    return [F.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False)]


def hflip_views(x: torch.Tensor) -> list[torch.Tensor]:
    return [x.flip(-1)]


def vflip_views(x: torch.Tensor) -> list[torch.Tensor]:
    return [x.flip(-2)]


def rot90_views(x: torch.Tensor) -> list[torch.Tensor]:
    return [torch.rot90(x, k, dims=(-2, -1)) for k in (1, 2, 3)]


def make_views(x: torch.Tensor, augmentations: Sequence[str]) -> list[tuple[str, torch.Tensor]]:
    """The original batch first, then every view of every chosen augmentation, each with its name."""
    views = [("original", x)]
    for name in augmentations:
        info = TTA_AUGMENTATIONS[name]
        views += list(zip(info.view_names, resolve(info.views)(x), strict=True))
    return views


def combine(view_probs: torch.Tensor, rule: str) -> torch.Tensor:
    """Combine V×N×K view probabilities into N×K probabilities by `rule`."""
    mean = view_probs.mean(dim=0)
    if rule == "mean":
        return mean
    if rule == "vote":
        k = view_probs.shape[-1]
        votes = F.one_hot(view_probs.argmax(dim=-1), k).sum(dim=0).to(mean.dtype)  # N×K
        # A tiny share of the mean probability breaks ties without changing any clear vote.
        scores = votes + mean * 1e-3
        return scores / scores.sum(dim=1, keepdim=True)
    raise ValueError(f"unknown combination rule {rule!r}")
