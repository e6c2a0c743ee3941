"""Building the chosen architecture for the data at hand, and summarising it."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from workbench.core.config import ProjectConfig
from workbench.core.models.registry import architecture_info
from workbench.core.models.small_cnn import SmallCNN


class ModelBuildError(ValueError):
    """The architecture cannot be built with these settings; the message says what to change."""


def build_model(config: ProjectConfig, in_channels: int, num_classes: int) -> nn.Module:
    name = config.model.architecture
    if name == "small_cnn":
        return SmallCNN(config.model.small_cnn, in_channels, num_classes, config.preprocessing.image_size)
    import timm

    info = architecture_info(name)
    kwargs = {}
    if "vit" in name or "deit" in name:
        kwargs["img_size"] = config.preprocessing.image_size
    try:
        if config.model.pretrained:  # the local cache first; no silent retries when offline
            from workbench.core.models.offline import WeightsOffline, create_pretrained

            try:
                return create_pretrained(info.timm_name or name, info.label, num_classes=num_classes,
                                         in_chans=in_channels, **kwargs)
            except WeightsOffline as error:
                raise ModelBuildError(str(error)) from None
        return timm.create_model(info.timm_name or name, pretrained=False,
                                 num_classes=num_classes, in_chans=in_channels, **kwargs)
    except RuntimeError as error:
        if config.model.pretrained:
            raise ModelBuildError(
                f"pretrained weights for {name} are neither in the local cache nor downloadable ({error}); "
                "untick 'pretrained' or place the weights in the Hugging Face cache"
            ) from None
        raise ModelBuildError(f"{name} cannot be built: {error}") from None


def penultimate_features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The features just before the classifier (for projections and feature extraction)."""
    model = getattr(model, "module", model)  # unwrap DDP
    if isinstance(model, SmallCNN):
        return model.forward_features(x)
    features = model.forward_features(x)
    return model.forward_head(features, pre_logits=True)


@dataclass(frozen=True)
class ModelSummary:
    name: str
    parameter_count: int
    trainable_count: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    feature_dim: int
    flops: int


def count_flops(model: nn.Module, example: torch.Tensor) -> int:
    """Multiply-accumulate count of convolutions and linear layers for one input (×2 = FLOPs)."""
    total = 0

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kernel = module.kernel_size[0] * module.kernel_size[1] * (module.in_channels // module.groups)
            total += int(output.numel() // output.shape[0]) * kernel
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    return 2 * total


def model_summary(config: ProjectConfig, in_channels: int, num_classes: int) -> ModelSummary:
    model = build_model(config, in_channels, num_classes).eval()
    size = config.preprocessing.image_size
    example = torch.zeros(1, in_channels, size, size)
    with torch.no_grad():
        out = model(example)
        feats = penultimate_features(model, example)
    return ModelSummary(
        config.model.architecture,
        sum(p.numel() for p in model.parameters()),
        sum(p.numel() for p in model.parameters() if p.requires_grad),
        (in_channels, size, size),
        tuple(out.shape[1:]),
        int(feats.shape[1]),
        count_flops(model, example),
    )
