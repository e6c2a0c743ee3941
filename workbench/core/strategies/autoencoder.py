"""Autoencoder warm-up (paper section V): the classifier's convolutional layers are first trained as the encoder
of an autoencoder on unlabelled images, then the classifier starts from them.

The decoder upsamples with transposed convolutions of kernel 4 and stride 2: an even kernel that the stride
divides overlaps every output pixel equally, which avoids the checkerboard artefacts of odd kernels
(Odena et al. 2016; paper section III-A). A final 3×3 convolution of stride 1 maps to the image channels.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from workbench.core.models.evaluating import evaluating
from workbench.core.models.small_cnn import SmallCNN
from workbench.core.strategies.base import StrategyContext
from workbench.core.strategies.pretraining import PretrainingStrategy, PretrainTask

UP_KERNEL, UP_STRIDE = 4, 2  # even kernel, divisible by the stride


def feature_map(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The encoder's spatial output (before global pooling): N×C×h×w."""
    out = model.features(x) if isinstance(model, SmallCNN) else model.forward_features(x)
    if out.dim() != 4:
        raise ValueError("the autoencoder warm-up needs a convolutional network (its features must be maps); "
                         "transformers give tokens: choose a CNN or another strategy")
    return out


class ConvDecoder(nn.Module):
    def __init__(self, channels: int, out_channels: int, map_size: int, image_size: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = channels
        for _ in range(max(0, math.ceil(math.log2(image_size / max(map_size, 1))))):
            c_out = max(c // 2, 16)
            layers += [nn.ConvTranspose2d(c, c_out, UP_KERNEL, UP_STRIDE, padding=1, bias=False), nn.BatchNorm2d(c_out),
                       nn.ReLU(inplace=True)]
            c = c_out
        layers.append(nn.Conv2d(c, out_channels, 3, padding=1))
        self.net = nn.Sequential(*layers)
        self.image_size = image_size

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = self.net(z)
        size = self.image_size
        if y.shape[-1] < size:  # pooling rounded an odd size up; stretch the last few pixels
            return F.interpolate(y, size=(size, size), mode="bilinear", align_corners=False)
        return y[..., :size, :size]


class AutoencoderTask(PretrainTask):
    def __init__(self, model: nn.Module, context: StrategyContext) -> None:
        super().__init__(model, context)
        size, channels = context.config.preprocessing.image_size, context.data.in_channels
        with evaluating(model):
            device = next(model.parameters()).device
            probe = feature_map(model, torch.zeros(2, channels, size, size, device=device))
        self.decoder = ConvDecoder(probe.shape[1], channels, probe.shape[-1], size)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        x = self.prepare(batch)
        return F.mse_loss(self.decoder(feature_map(self.model, x)), x)


class AutoencoderStrategy(PretrainingStrategy):
    checkpoint_name = "pretrain_autoencoder.pt"
    label = "autoencoder warm-up"

    def make_task(self, model: nn.Module, context: StrategyContext) -> PretrainTask:
        return AutoencoderTask(model, context)
