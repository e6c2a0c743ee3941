"""A compact CNN whose depth, width, convolution, activation, normalisation and pooling are chosen by the user."""

from __future__ import annotations

import torch
from torch import nn

from workbench.core.config import SmallCNNConfig
from workbench.core.models.layers import make_activation, make_conv, make_downsample, make_norm


class SmallCNN(nn.Module):
    def __init__(self, cfg: SmallCNNConfig, in_channels: int, num_classes: int, image_size: int) -> None:
        super().__init__()
        stages: list[nn.Module] = []
        c_in, size = in_channels, image_size
        convs = max(1, round(2 * cfg.depth_multiplier))  # per stage
        k = cfg.kernel_size
        for i in range(cfg.depth):
            c_out = min(max(4, round(cfg.width * cfg.width_multiplier * 2**i)), 1024)
            block: list[nn.Module] = []
            for j in range(convs):
                # The very first convolution sees raw pixels: keep it standard whatever the chosen type.
                kind = "standard" if (i, j) == (0, 0) else cfg.conv_type
                block += [make_conv(kind, c_in if j == 0 else c_out, c_out, k),
                          make_norm(cfg.normalization, c_out), make_activation(cfg.activation)]
            if size >= 2:  # never pool below one pixel
                block.append(make_downsample(cfg.downsample, c_out))
                size = (size + 1) // 2
            stages.append(nn.Sequential(*block))
            c_in = c_out
        self.features = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.num_features = c_in
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(c_in, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.features(x)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.forward_features(x)))
