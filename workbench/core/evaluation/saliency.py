"""Saliency maps for single predictions: Grad-CAM (captum's LayerGradCam) for CNNs, occlusion otherwise.

The overlays are H×W×3 uint8 arrays, enlarged for display when the network's input is tiny, so a
reviewer can see where the model looked when it made a mistake.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

DISPLAY_SIDE = 128  # overlays are enlarged to at least this many pixels per side


def last_conv_layer(model: nn.Module) -> nn.Module | None:
    """The last 2-D convolution of a CNN, or None for attention models (whose first conv only embeds patches)."""
    if any("attention" in type(m).__name__.lower() for m in model.modules()):
        return None
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    return convs[-1] if convs else None


def saliency_maps(model: nn.Module, x: torch.Tensor, targets: torch.Tensor) -> tuple[np.ndarray, str]:
    """Maps (N×H×W, each scaled to 0–1) of the evidence for class `targets` in the normalised batch `x`."""
    from captum.attr import LayerAttribution, LayerGradCam, Occlusion

    model.eval()
    height, width = x.shape[-2:]
    conv = last_conv_layer(model)
    with torch.enable_grad():
        if conv is not None:
            method = "Grad-CAM"
            attribution = LayerGradCam(model, conv).attribute(x, target=targets, relu_attributions=True)
            maps = LayerAttribution.interpolate(attribution, (height, width), "bilinear")[:, 0]
        else:
            method = "Occlusion"
            window = max(2, min(height, width) // 8)
            stride = max(1, window // 2)
            channels = x.shape[1]
            attribution = Occlusion(model).attribute(
                x, target=targets, sliding_window_shapes=(channels, window, window), strides=(channels, stride, stride),
                baselines=0.0,
            )
            maps = attribution.clamp_min(0).sum(dim=1)
    maps = maps.detach().float().cpu()
    peak = maps.flatten(1).max(dim=1).values.clamp_min(1e-12).view(-1, 1, 1)
    return (maps / peak).clamp(0, 1).numpy(), method


def overlay(image01: np.ndarray, heat: np.ndarray, alpha: float = 0.6, side: int = DISPLAY_SIDE) -> np.ndarray:
    """Blend a C×H×W image in 0–1 with an H×W heat map in 0–1; returns an enlarged H'×W'×3 uint8 array."""
    from matplotlib import colormaps
    from PIL import Image

    image = np.clip(image01, 0, 1)
    rgb = np.repeat(image, 3, axis=0) if image.shape[0] == 1 else image[:3]
    rgb = rgb.transpose(1, 2, 0)
    height, width = rgb.shape[:2]
    scale = max(1, int(np.ceil(side / max(height, width))))
    size = (width * scale, height * scale)
    # Pixels enlarged as blocks (the network saw blocks); the heat map smoothly, as Grad-CAM is coarse anyway.
    big = np.asarray(Image.fromarray((rgb * 255).round().astype(np.uint8)).resize(size, Image.NEAREST),
                     dtype=np.float32) / 255
    heat_big = np.asarray(Image.fromarray(np.clip(heat, 0, 1).astype(np.float32), mode="F").resize(size, Image.BILINEAR))
    heat_big = np.clip(heat_big, 0, 1)
    colour = colormaps["jet"](heat_big)[..., :3]
    weight = alpha * heat_big[..., None]
    blended = (1 - weight) * big + weight * colour
    return (np.clip(blended, 0, 1) * 255).round().astype(np.uint8)
