"""Building blocks of the small CNN: activations, normalisations, convolution types, downsampling."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Swish(nn.Module):
    """x·sigmoid(βx); β is fixed at 1 or learned."""

    def __init__(self, trainable: bool = False) -> None:
        super().__init__()
        self.beta = nn.Parameter(torch.ones(1)) if trainable else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x if self.beta is None else self.beta * x)


def make_activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "swish":
        return Swish(trainable=False)
    if name == "swish_trainable":
        return Swish(trainable=True)
    if name == "mish":
        return nn.Mish(inplace=True)
    raise ValueError(f"unknown activation {name!r}")


def make_norm(name: str, channels: int) -> nn.Module:
    if name == "batch":
        return nn.BatchNorm2d(channels)
    if name == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if name == "layer":
        return nn.GroupNorm(1, channels)  # LayerNorm over C, H and W of each sample
    if name == "group":
        groups = next(g for g in (8, 4, 2, 1) if channels % g == 0)
        return nn.GroupNorm(groups, channels)
    if name == "none":
        return nn.Identity()
    raise ValueError(f"unknown normalisation {name!r}")


def make_conv(kind: str, c_in: int, c_out: int, k: int = 3, stride: int = 1) -> nn.Module:
    pad = k // 2
    if kind == "standard":
        return nn.Conv2d(c_in, c_out, k, stride, pad, bias=False)
    if kind == "bottleneck":  # 1×1 reduces channels before the k×k convolution
        mid = max(4, c_out // 4)
        return nn.Sequential(nn.Conv2d(c_in, mid, 1, bias=False), nn.Conv2d(mid, c_out, k, stride, pad, bias=False))
    if kind == "spatial_separable":  # 1×k then k×1
        return nn.Sequential(nn.Conv2d(c_in, c_out, (1, k), (1, stride), (0, pad), bias=False),
                             nn.Conv2d(c_out, c_out, (k, 1), (stride, 1), (pad, 0), bias=False))
    if kind == "depthwise_separable":  # per-channel k×k, then 1×1 across channels
        return nn.Sequential(nn.Conv2d(c_in, c_in, k, stride, pad, groups=c_in, bias=False),
                             nn.Conv2d(c_in, c_out, 1, bias=False))
    raise ValueError(f"unknown convolution type {kind!r}")


class BlurPool(nn.Module):
    """Anti-aliased downsampling (Zhang 2019): low-pass filter with a [1 2 1] kernel, then stride 2."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        kernel = torch.tensor([1.0, 2.0, 1.0])
        kernel = (kernel[:, None] * kernel[None, :]) / 16.0
        self.register_buffer("kernel", kernel.expand(channels, 1, 3, 3).clone())
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (1, 1, 1, 1), mode="reflect" if min(x.shape[-2:]) > 1 else "replicate")
        return F.conv2d(x, self.kernel, stride=2, groups=self.channels)


def make_downsample(kind: str, channels: int) -> nn.Module:
    if kind == "max":
        return nn.MaxPool2d(2, ceil_mode=True)
    if kind == "avg":
        return nn.AvgPool2d(2, ceil_mode=True)
    if kind == "strided":
        return nn.Conv2d(channels, channels, 3, 2, 1, bias=False)
    if kind == "blur":
        return nn.Sequential(nn.MaxPool2d(2, stride=1, padding=0), BlurPool(channels))
    raise ValueError(f"unknown downsampling {kind!r}")
