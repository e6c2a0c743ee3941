"""Architectures: every small-CNN option builds and trains a step; timm models take any channels and classes."""

from __future__ import annotations

import itertools

import pytest
import torch

from workbench.core.config import ProjectConfig
from workbench.core.models.factory import build_model, model_summary, penultimate_features
from workbench.core.models.registry import ACTIVATIONS, ARCHITECTURES


@pytest.mark.parametrize(
    ("conv", "down"),
    list(itertools.product(["standard", "bottleneck", "spatial_separable", "depthwise_separable"],
                           ["max", "avg", "strided", "blur"])),
)
def test_small_cnn_options_forward_and_backward(conv: str, down: str) -> None:
    config = ProjectConfig()
    config.model.small_cnn.conv_type = conv
    config.model.small_cnn.downsample = down
    config.model.small_cnn.width = 8
    config.preprocessing.image_size = 12
    model = build_model(config, 3, 5)
    out = model(torch.randn(4, 3, 12, 12))
    assert out.shape == (4, 5)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("norm", ["batch", "instance", "layer", "group", "none"])
def test_activations_and_normalisations(activation: str, norm: str) -> None:
    config = ProjectConfig()
    config.model.small_cnn.activation = activation
    config.model.small_cnn.normalization = norm
    config.model.small_cnn.width = 8
    config.preprocessing.image_size = 8
    model = build_model(config, 1, 2)
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 2)
    if activation == "swish_trainable":
        assert any("beta" in n for n, _ in model.named_parameters())


def test_summary_counts_parameters_and_flops() -> None:
    config = ProjectConfig()
    small = model_summary(config, 1, 10)
    config.model.small_cnn.width = 64
    wide = model_summary(config, 1, 10)
    assert small.input_shape == (1, 32, 32) and small.output_shape == (10,)
    assert wide.parameter_count > 3 * small.parameter_count and wide.flops > small.flops > 0


@pytest.mark.parametrize("name", ["test_resnet", "test_efficientnet", "test_vit"])
def test_timm_models_with_grey_input(name: str) -> None:
    config = ProjectConfig()
    config.model.architecture = name
    config.preprocessing.image_size = 32
    model = build_model(config, 1, 3).eval()
    x = torch.randn(2, 1, 32, 32)
    assert model(x).shape == (2, 3)
    assert penultimate_features(model, x).shape[0] == 2


def test_registry_entries_are_described() -> None:
    for info in ARCHITECTURES.values():
        assert info.label and info.description and info.family
    assert "much more data" in ARCHITECTURES["vit_tiny_patch16_224"].description


def test_width_depth_and_kernel_scaling_change_size_and_cost() -> None:
    config = ProjectConfig()
    base = model_summary(config, 1, 10)
    config.model.small_cnn.width_multiplier = 2.0
    wide = model_summary(config, 1, 10)
    config.model.small_cnn.width_multiplier = 1.0
    config.model.small_cnn.depth_multiplier = 2.0
    deep = model_summary(config, 1, 10)
    config.model.small_cnn.depth_multiplier = 1.0
    config.model.small_cnn.kernel_size = 5
    big_kernel = model_summary(config, 1, 10)
    assert wide.parameter_count > 3 * base.parameter_count
    assert deep.flops > 1.5 * base.flops and deep.output_shape == (10,)
    assert big_kernel.parameter_count > 2 * base.parameter_count
