"""Transfer learning's fresh head starts small (issue 12): the first loss is near ln C for every family.

The "pretrained" weights are each architecture trained briefly on other real digits (4–9), so its features
have the scale of learned features; the transfer task is digits 0–3. With timm's own head initialisation the
first loss on these features was 3.90 for EfficientNet-B0, 4.69 for MobileNetV3 and 2.59 for the test EfficientNet
(ln 4 = 1.39).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import tiny_config, write_digits_dataset
from workbench.core.callbacks import CollectingCallback
from workbench.core.config import ProjectConfig
from workbench.core.events import BatchEnded
from workbench.core.models.factory import build_model
from workbench.core.models.heads import start_head_small
from workbench.core.models.registry import ARCHITECTURES
from workbench.core.training.engine import train

CLASSES, SIZE = 4, 32
LN_C = math.log(CLASSES)
# One registry member per family, small enough to pretrain and transfer on a CPU in seconds.
FAMILY_MEMBER = {"Workbench": "small_cnn", "Test": "test_efficientnet", "ResNet": "resnet18",
                 "MobileNet": "mobilenetv3_small_100", "ConvNeXt": "convnext_atto", "ViT/DeiT": "deit_tiny_patch16_224",
                 "EfficientNet": "efficientnet_b0", "Wide ResNet": "wide_resnet50_2"}
RUN = ["small_cnn", "test_efficientnet"]
QUICK = {"Workbench": 60, "Test": 60, "MobileNet": 20}  # pretraining steps of the families cheap to train


def test_every_family_of_the_registry_is_covered() -> None:
    assert {info.family for info in ARCHITECTURES.values()} == set(FAMILY_MEMBER)
    assert all(ARCHITECTURES[name].family == family for family, name in FAMILY_MEMBER.items())


def _other_digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    rows = np.flatnonzero(digits.target >= CLASSES)[:240]
    x = torch.from_numpy(digits.images[rows]).float()[:, None] / 16
    x = torch.nn.functional.interpolate(x, size=SIZE, mode="bilinear", align_corners=False)
    return (x - x.mean()) / x.std(), torch.from_numpy(digits.target[rows] - CLASSES)


def _config(name: str) -> ProjectConfig:
    config = ProjectConfig()
    config.model.architecture = name
    config.preprocessing.image_size = SIZE
    config.model.small_cnn.width, config.model.small_cnn.depth = 8, 2  # as tiny_config
    return config


def _pretrained(name: str, steps: int = 60) -> torch.nn.Module:
    """The architecture after a short training on digits 4–9: learned features, a head for 6 other classes."""
    torch.manual_seed(0)
    model = build_model(_config(name), 1, 10 - CLASSES)
    optimizer = torch.optim.AdamW(model.parameters(), 3e-3)
    x, y = _other_digits()
    model.train()
    for step in range(steps):
        rows = slice((step * 24) % 240, (step * 24) % 240 + 24)
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x[rows]), y[rows]).backward()
        optimizer.step()
    return model


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_digits_dataset(tmp_path_factory.mktemp("digits"), classes=CLASSES, per_class=16, size=SIZE)


@pytest.mark.parametrize("name", RUN)
def test_a_transfer_runs_first_loss_is_near_ln_c(name: str, digits: Path, tmp_path: Path) -> None:
    weights = tmp_path / f"{name}.pth"
    torch.save(_pretrained(name).state_dict(), weights)
    config = tiny_config(digits, tmp_path / "runs", epochs=1, batch_size=16)
    config.model = _config(name).model
    config.preprocessing.image_size = SIZE
    config.strategy.name = "transfer"
    config.strategy.weights, config.strategy.weights_path = "file", str(weights)
    events = CollectingCallback()
    result = train(config, events)
    assert result.status == "completed", result.reason
    first = events.of_type(BatchEnded)[0].loss
    assert abs(first - LN_C) <= 0.15 * LN_C, f"{name}: first loss {first:.3f}, ln C = {LN_C:.3f}"


@pytest.mark.parametrize("family", sorted(FAMILY_MEMBER))
def test_every_familys_fresh_head_gives_ln_c(family: str) -> None:
    name = FAMILY_MEMBER[family]
    source = _pretrained(name, steps=QUICK.get(family, 0))  # large networks: their initial weights, to stay fast
    model = build_model(_config(name), 1, CLASSES)
    backbone = {k: v for k, v in source.state_dict().items() if model.state_dict()[k].shape == v.shape}
    model.load_state_dict(backbone, strict=False)
    assert start_head_small(model), f"{family}: no head layer found"
    x, _ = _other_digits()
    with torch.no_grad():
        logits = model.eval()(x[:32])
    loss = float(torch.nn.functional.cross_entropy(logits, torch.arange(32) % CLASSES))
    assert abs(loss - LN_C) <= 0.15 * LN_C, f"{family} ({name}): first loss {loss:.3f}"
