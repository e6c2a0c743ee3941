"""A fresh classifier head that starts small, so the first loss of transfer learning is ln C.

timm initialises some heads with a range scaled by the number of outputs (EfficientNet: ±1/√C), far too wide
for a new 4-class head on pretrained features: with real ImageNet weights the first loss was 7.7 against
ln 4 = 1.39. Zeroing the last layer of the head makes every class equally likely at the start whatever the
features (loss exactly ln C, the paper's check II-A.4), and the gradient of that layer is not zero, so it learns
from the first step; hidden layers of a multi-layer head keep their own initialisation.
"""

from __future__ import annotations

import torch
from torch import nn

from workbench.core.models.pretrained import head_prefixes, is_head_key


def start_head_small(model: nn.Module) -> list[str]:
    """Zero the weights and biases of the head's output layer (the last linear or 1×1 convolution in it).

    Returns the names of the layers reset (empty when the model has no recognisable head)."""
    prefixes = head_prefixes(model)
    reset = []
    for prefix in prefixes:
        layers = [(name, module) for name, module in model.named_modules()
                  if is_head_key(name, [prefix]) and isinstance(module, (nn.Linear, nn.Conv2d))]
        if not layers:
            continue
        name, last = layers[-1]  # modules come in definition order: the output layer is the last one
        with torch.no_grad():
            last.weight.zero_()
            if last.bias is not None:
                last.bias.zero_()
        reset.append(name)
    return reset
