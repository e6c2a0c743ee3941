"""Registry of architectures and activations, as frozen dataclasses (after timm's optimizer registry).

This module imports no torch (nor anything of Workbench), so the config and the GUI can list choices
cheaply. Each architecture names its builder as "module:function"; the builder is imported only when a
model is actually made. The small CNN's options are described here once; the config takes its
descriptions from `SMALL_CNN_PARAMS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class ParamInfo:
    name: str
    label: str
    description: str


TIMM_BUILDER = "workbench.core.models.builders:build_timm"
SMALL_CNN_BUILDER = "workbench.core.models.builders:build_small_cnn"


@dataclass(frozen=True)
class ArchitectureInfo:
    name: str
    label: str
    description: str
    family: str
    size: str = ""
    params: tuple[ParamInfo, ...] = field(default_factory=tuple)
    needs_much_data: bool = False
    timm_name: str | None = None  # None: built by Workbench itself
    base_resolution: int = 224  # the input side its design (and its pretrained weights) assume: resolution ×1
    builder: str = TIMM_BUILDER  # "module:function(config, info, in_channels, num_classes) -> nn.Module"
    # timm's pretrained config marks the model's input size as fixed: the image size is passed as `img_size`.
    # None (a timm name outside the registry): timm is asked when the model is built.
    takes_img_size: bool | None = False

    @property
    def shaped_by_small_cnn_settings(self) -> bool:
        """True when `model.small_cnn` (depth, width, convolution, …) shapes it: the Model pane's CNN form applies."""
        return self.builder == SMALL_CNN_BUILDER

    @property
    def uses_pretrained_weights(self) -> bool:
        """True when 'pretrained' means something for it (timm's weights)."""
        return self.timm_name is not None


@dataclass(frozen=True)
class ActivationInfo:
    name: str
    label: str
    description: str


ACTIVATIONS: dict[str, ActivationInfo] = {
    a.name: a
    for a in (
        ActivationInfo("relu", "ReLU", "max(0, x): simple and fast; units can die when the learning rate is high."),
        ActivationInfo("swish", "Swish (β = 1)", "x·sigmoid(x): smooth, often a little better than ReLU in deep nets."),
        ActivationInfo("swish_trainable", "Swish (trainable β)", "x·sigmoid(βx) with β learned per layer."),
        ActivationInfo("mish", "Mish", "x·tanh(softplus(x)): smooth and non-monotonic, good in small data regimes."),
    )
}

SMALL_CNN_PARAMS: dict[str, ParamInfo] = {
    p.name: p
    for p in (
        ParamInfo("depth", "Depth", "Number of convolution stages; deeper nets suit clear single-object images."),
        ParamInfo("width", "Width", "Channels in the first stage, doubled at each later stage; wider nets capture "
                                    "finer detail."),
        ParamInfo("activation", "Activation", "Non-linearity after each convolution."),
        ParamInfo("normalization", "Normalisation", "Layer after each convolution that keeps feature maps in range."),
        ParamInfo("conv_type", "Convolution", "Standard, 1×1 bottleneck, spatially or depthwise separable."),
        ParamInfo("downsample", "Downsampling", "How each stage halves the resolution: max, average, strided "
                                                "convolution, or anti-aliased blur pooling."),
        ParamInfo("dropout", "Dropout", "Share of features dropped before the classifier during training."),
        ParamInfo("kernel_size", "Kernel size", "Side of each convolution kernel; odd sizes keep the image centred."),
        ParamInfo("width_multiplier", "Width ×", "Scales every stage's channels (EfficientNet's width multiplier)."),
        ParamInfo("depth_multiplier", "Depth ×", "Scales the convolutions per stage, 2 at 1.0 (EfficientNet's depth "
                                                 "multiplier)."),
    )
}


def small_cnn_doc(name: str) -> str:
    """The one description of a small-CNN option (the config's field description and the form's tooltip)."""
    return SMALL_CNN_PARAMS[name].description


def _timm(name: str, label: str, family: str, size: str, description: str, **kw: Any) -> ArchitectureInfo:
    return ArchitectureInfo(name, label, description, family, size, timm_name=name, **kw)


ARCHITECTURES: dict[str, ArchitectureInfo] = {
    a.name: a
    for a in (
        ArchitectureInfo(
            "small_cnn", "Small CNN (configurable)",
            "A compact CNN you shape yourself; the safest start for small datasets and small images.",
            "Workbench", "0.01–5 M", params=tuple(SMALL_CNN_PARAMS.values()), base_resolution=32,
            builder=SMALL_CNN_BUILDER,
        ),
        _timm("resnet18", "ResNet-18", "ResNet", "11.7 M", "Residual network; a robust, well-understood default."),
        _timm("resnet34", "ResNet-34", "ResNet", "21.8 M", "Deeper residual network."),
        _timm("resnet50", "ResNet-50", "ResNet", "25.6 M", "Bottleneck residual network; strong with pretrained weights."),
        _timm("wide_resnet50_2", "Wide ResNet-50-2", "Wide ResNet", "68.9 M", "Wider ResNet; easier to train, captures fine detail."),
        _timm("efficientnet_b0", "EfficientNet-B0", "EfficientNet", "5.3 M", "Depth, width and resolution scaled together."),
        _timm("efficientnet_b2", "EfficientNet-B2", "EfficientNet", "9.1 M", "Larger EfficientNet for higher resolutions.",
              base_resolution=256),
        _timm("mobilenetv2_100", "MobileNetV2", "MobileNet", "3.5 M", "Depthwise separable convolutions; fast on CPUs."),
        _timm("mobilenetv3_small_100", "MobileNetV3 Small", "MobileNet", "2.5 M", "Very small and fast."),
        _timm("mobilenetv3_large_100", "MobileNetV3 Large", "MobileNet", "5.5 M", "Fast and accurate mobile network."),
        _timm("convnext_atto", "ConvNeXt Atto", "ConvNeXt", "3.7 M", "Modernised CNN with transformer-style design."),
        _timm("convnext_tiny", "ConvNeXt Tiny", "ConvNeXt", "28.6 M", "Modern CNN; strong with pretrained weights."),
        _timm(
            "vit_tiny_patch16_224", "ViT Tiny/16", "ViT/DeiT", "5.7 M",
            "Vision transformer. It needs much more data than a CNN: use pretrained weights, never scratch on small data.",
            needs_much_data=True, takes_img_size=True,
        ),
        _timm(
            "deit_tiny_patch16_224", "DeiT Tiny/16", "ViT/DeiT", "5.7 M",
            "Data-efficient transformer; still needs far more data than a CNN unless pretrained.",
            needs_much_data=True, takes_img_size=True,
        ),
        _timm("test_resnet", "timm test ResNet", "Test", "<0.1 M", "timm's tiny ResNet for quick checks.", base_resolution=160),
        _timm("test_efficientnet", "timm test EfficientNet", "Test", "<0.1 M", "timm's tiny EfficientNet for quick checks.",
              base_resolution=160),
        _timm("test_vit", "timm test ViT", "Test", "<0.1 M", "timm's tiny ViT for quick checks.", needs_much_data=True,
              base_resolution=160, takes_img_size=True),
    )
}


@lru_cache(maxsize=1)
def _timm_names() -> frozenset[str]:
    import timm

    return frozenset(timm.list_models())


def is_known_architecture(name: str) -> bool:
    """True for registry entries and for any model name timm knows (timm is imported only for the latter)."""
    if name in ARCHITECTURES:
        return True
    try:
        return name in _timm_names()
    except ImportError:
        return False


def architecture_info(name: str) -> ArchitectureInfo:
    if name in ARCHITECTURES:
        return ARCHITECTURES[name]
    return ArchitectureInfo(name, name, f"timm model {name}.", "timm", timm_name=name, takes_img_size=None)


def register_architecture(info: ArchitectureInfo) -> None:
    """Add or replace an architecture (plugins use this through the `workbench.plugins` entry points)."""
    if ":" not in info.builder:
        raise ValueError(f"architecture {info.name!r}: builder must be 'module:function', not {info.builder!r}")
    ARCHITECTURES[info.name] = info
