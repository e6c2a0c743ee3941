"""Perturbations for the robustness check (paper, section VI-B), each at several strengths.

Each works on a batch of 0–1 scaled images (N×C×H×W) and returns one of the same shape and range.
The first two strengths of each are mild: a model that generalises should barely notice them.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as TF

from workbench.core.evaluation.tta import shift_image

Apply = Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]
MILD_LEVELS = 2


def _noise(x: torch.Tensor, sigma: float, gen: torch.Generator) -> torch.Tensor:
    return (x + torch.randn(x.shape, generator=gen) * sigma).clamp_(0.0, 1.0)


def _blur(x: torch.Tensor, sigma: float, gen: torch.Generator) -> torch.Tensor:
    side = min(x.shape[-2:])
    kernel = 2 * math.ceil(3 * sigma) + 1
    kernel = min(kernel, side if side % 2 else side - 1)
    if kernel < 3:
        return x
    return TF.gaussian_blur(x, [kernel, kernel], [sigma, sigma])


def _shift_by(x: torch.Tensor, fraction: float, gen: torch.Generator) -> torch.Tensor:
    step = max(1, round(x.shape[-1] * fraction))
    return shift_image(x, step, step)


def _rotate(x: torch.Tensor, degrees: float, gen: torch.Generator) -> torch.Tensor:
    return TF.rotate(x, degrees, interpolation=TF.InterpolationMode.BILINEAR)


def _brightness(x: torch.Tensor, offset: float, gen: torch.Generator) -> torch.Tensor:
    return (x + offset).clamp_(0.0, 1.0)


def _contrast(x: torch.Tensor, reduction: float, gen: torch.Generator) -> torch.Tensor:
    mean = x.mean(dim=(-3, -2, -1), keepdim=True)
    return (mean + (x - mean) * (1.0 - reduction)).clamp_(0.0, 1.0)


def _jpeg(x: torch.Tensor, quality: float, gen: torch.Generator) -> torch.Tensor:
    out = torch.empty_like(x)
    for i, image in enumerate(x):
        pixels = (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        pil = Image.fromarray(pixels[:, :, 0], mode="L") if pixels.shape[2] == 1 else Image.fromarray(pixels, mode="RGB")
        buffer = io.BytesIO()
        pil.save(buffer, format="JPEG", quality=int(quality))
        decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())), dtype=np.float32) / 255.0
        decoded = decoded[:, :, None] if decoded.ndim == 2 else decoded
        out[i] = torch.from_numpy(decoded).permute(2, 0, 1)
    return out


@dataclass(frozen=True)
class PerturbationInfo:
    name: str
    label: str
    description: str
    strengths: tuple[float, ...]  # mildest first
    unit: str
    apply: Apply

    def describe(self, strength: float) -> str:
        return self.unit.format(strength)


PERTURBATIONS: dict[str, PerturbationInfo] = {
    p.name: p
    for p in (
        PerturbationInfo("gaussian_noise", "Gaussian noise", "Add random noise of this standard deviation (0–1 range).",
                         (0.02, 0.05, 0.1, 0.2), "σ = {:g}", _noise),
        PerturbationInfo("blur", "Blur", "Gaussian blur of this sigma, in pixels of the network's input.",
                         (0.5, 0.8, 1.2, 2.0), "σ = {:g} px", _blur),
        PerturbationInfo("shift", "Shift", "Move the image right and down by this share of its side.",
                         (0.03, 0.06, 0.12, 0.2), "{:.0%} of side", _shift_by),
        PerturbationInfo("rotation", "Rotation", "Rotate by this many degrees.", (3.0, 8.0, 15.0, 30.0), "{:g}°", _rotate),
        PerturbationInfo("brightness", "Brightness", "Add this much to every pixel (0–1 range).",
                         (0.05, 0.1, 0.2, 0.35), "+{:g}", _brightness),
        PerturbationInfo("contrast", "Contrast", "Reduce the contrast by this share.", (0.1, 0.25, 0.5, 0.75),
                         "−{:.0%}", _contrast),
        PerturbationInfo("jpeg", "JPEG compression", "Save and reload as JPEG at this quality (lower is worse).",
                         (90.0, 70.0, 40.0, 15.0), "quality {:g}", _jpeg),
    )
}


def perturb(x: torch.Tensor, name: str, strength: float, seed: int = 0) -> torch.Tensor:
    """Apply perturbation `name` at `strength` to a 0–1 batch (seeded, so reruns are identical)."""
    gen = torch.Generator().manual_seed(seed)
    return PERTURBATIONS[name].apply(x, strength, gen)
