"""Building the chosen architecture for the data at hand, and summarising it."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from workbench.core.config import ProjectConfig
from workbench.core.models.registry import ArchitectureInfo, architecture_info
from workbench.core.models.small_cnn import SmallCNN


class ModelBuildError(ValueError):
    """The architecture cannot be built with these settings; the message says what to change."""


def _builder(info: ArchitectureInfo) -> Callable[..., nn.Module]:
    module_name, _, function = info.builder.partition(":")
    return getattr(importlib.import_module(module_name), function)


def build_model(config: ProjectConfig, in_channels: int, num_classes: int) -> nn.Module:
    """The registry entry's builder makes the model (timm models at the project's size where timm needs it)."""
    name = config.model.architecture
    info = architecture_info(name)
    try:
        return _builder(info)(config, info, in_channels, num_classes)
    except ModelBuildError:
        raise
    except RuntimeError as error:
        if config.model.pretrained:
            raise ModelBuildError(
                f"pretrained weights for {name} are neither in the local cache nor downloadable ({error}); "
                "untick 'pretrained' or place the weights in the Hugging Face cache"
            ) from None
        raise ModelBuildError(f"{name} cannot be built: {error}") from None
    except (TypeError, AssertionError, ValueError) as error:  # timm's own refusals of a setting
        raise ModelBuildError(f"{name} cannot be built with these settings: {error}") from None


def _unsupported_on_meta(error: Exception) -> bool:
    """True when the meta device, not the settings, is what failed (an operation without a meta kernel)."""
    return isinstance(error, NotImplementedError) or "meta" in str(error).lower()


def preflight_model(config: ProjectConfig, in_channels: int, num_classes: int) -> None:
    """Build the architecture on the meta device (no memory, no weights) and pass a batch through it, so that
    settings the model cannot take, above all an image size, are refused before any run folder is made.

    Raises ModelBuildError. Where the meta device itself is the problem (a plugin's builder that reads files, an
    operation without a meta kernel), nothing is refused: the real build will say what is wrong, if anything.
    """
    name, size = config.model.architecture, config.preprocessing.image_size
    plain = config.model_copy(update={"model": config.model.model_copy(update={"pretrained": False})})
    with torch.device("meta"):
        try:
            model = build_model(plain, in_channels, max(2, num_classes)).eval()
        except ModelBuildError as error:
            if _unsupported_on_meta(error):
                return
            raise
        except Exception:  # not a refusal of the settings: leave it to the real build
            return
        try:
            with torch.no_grad():
                model(torch.zeros(2, in_channels, size, size))
        except Exception as error:
            if _unsupported_on_meta(error):
                return
            base = architecture_info(name).base_resolution
            raise ModelBuildError(
                f"{name} cannot take {size}×{size} images ({error}). Choose another image size in Preprocessing "
                f"(its design size is {base} px) or another architecture"
            ) from None


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
    preflight_model(config, in_channels, num_classes)  # a size the model cannot take: one clear ModelBuildError
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
