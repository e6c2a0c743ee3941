"""A network used as a feature extractor, wrapped with a fitted classifier so that `model(x)` gives logits.

Features come from the penultimate layer, or from chosen layers, each globally pooled and concatenated
(paper section V). They are standardised, optionally reduced by PCA, then classified by a tensor head.
The wrapper offers `forward_features`, `forward_head` and `get_classifier` like a timm model, so the
engine's predictions, projections and evaluation treat it as any other network.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from workbench.core.models.factory import penultimate_features
from workbench.core.strategies.feature_heads import FeatureHead, ResizableBuffers

PENULTIMATE = "penultimate"
ALL_BLOCKS = "all_blocks"


def available_layers(backbone: nn.Module) -> list[str]:
    """The layers offered for feature extraction, from input to output."""
    info = getattr(backbone, "feature_info", None)
    if info is not None:  # timm: the stages it exposes as multi-scale features
        names = [i["module"] for i in (info.get_dicts() if hasattr(info, "get_dicts") else info)]
        modules = dict(backbone.named_modules())
        return [n for n in names if n in modules]
    features = getattr(backbone, "features", None)
    if isinstance(features, nn.Sequential):  # the small CNN's stages
        return [f"features.{i}" for i in range(len(features))]
    return [name for name, _ in backbone.named_children()]


def resolve_layers(backbone: nn.Module, spec: str) -> list[str]:
    """Layer names for `spec` ('penultimate' gives an empty list); unknown names are refused with the choices."""
    spec = spec.strip()
    if spec in ("", PENULTIMATE):
        return []
    if spec == ALL_BLOCKS:
        return available_layers(backbone)
    names = [n.strip() for n in spec.split(",") if n.strip()]
    modules = dict(backbone.named_modules())
    unknown = [n for n in names if n not in modules]
    if unknown:
        raise ValueError(f"feature layer(s) {', '.join(unknown)} do not exist in this network; use 'penultimate', "
                         f"'all_blocks' or names such as {', '.join(available_layers(backbone)[:8])}")
    return names


def global_pool(output: Any) -> torch.Tensor:
    """One vector per image: the mean over positions (maps) or tokens (transformers)."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    if output.dim() == 4:
        return output.mean(dim=(2, 3))
    if output.dim() == 3:
        return output.mean(dim=1)
    return output.flatten(1)


class FeatureTransform(ResizableBuffers):
    """Standardisation, then an optional PCA projection; both fitted on the training features."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(0))
        self.register_buffer("scale", torch.zeros(0))
        self.register_buffer("pca_mean", torch.zeros(0))
        self.register_buffer("components", torch.zeros(0, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mean.numel():
            x = (x - self.mean) / self.scale
        if self.components.numel():
            x = (x - self.pca_mean) @ self.components.T
        return x


class FeatureClassifier(nn.Module):
    """backbone → pooled features → (L2-normalise) → standardise/PCA → classifier head."""

    def __init__(self, backbone: nn.Module, layers: str, head: FeatureHead, *, l2_normalise: bool = False,
                 frozen: bool = True) -> None:
        super().__init__()
        self.backbone = backbone
        self.layers = resolve_layers(backbone, layers)
        self.transform = FeatureTransform()
        self.head = head
        self.l2_normalise = l2_normalise
        self.frozen = frozen
        self.num_classes = head.num_classes
        self._captured: dict[str, torch.Tensor] = {}
        modules = dict(backbone.named_modules())
        for name in self.layers:
            modules[name].register_forward_hook(self._capture(name))

    def _capture(self, name: str):
        def hook(_module: nn.Module, _inputs: tuple, output: Any) -> None:
            self._captured[name] = global_pool(output)
        return hook

    def train(self, mode: bool = True) -> FeatureClassifier:
        super().train(mode)
        if self.frozen:  # a fixed extractor keeps its batch-norm statistics and has no dropout
            self.backbone.eval()
        return self

    def raw_features(self, x: torch.Tensor) -> torch.Tensor:
        if not self.layers:
            features = penultimate_features(self.backbone, x)
        else:
            self._captured.clear()
            self.backbone(x)
            features = torch.cat([self._captured[n] for n in self.layers], dim=1)
            self._captured.clear()
        return nn.functional.normalize(features, dim=1) if self.l2_normalise else features

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.transform(self.raw_features(x))

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return features if pre_logits else self.head(features)

    def get_classifier(self) -> nn.Module:
        return self.head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))
