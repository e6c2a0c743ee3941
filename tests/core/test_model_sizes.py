"""Fixed-size transformers at other image sizes (issue 18, item 2): timm is asked whether a model takes
`img_size`; it is passed where it does, and a size the model cannot take is refused before any run folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.helpers import tiny_config
from workbench.core.config import ProjectConfig
from workbench.core.models.builders import takes_img_size
from workbench.core.models.factory import ModelBuildError, build_model, preflight_model
from workbench.core.models.registry import ARCHITECTURES, architecture_info
from workbench.core.training.engine import train

TIMM_ENTRIES = sorted(n for n, info in ARCHITECTURES.items() if info.timm_name)
EXTRA = ["swin_tiny_patch4_window7_224", "cait_xxs24_224"]
# Small enough to build for real on a CPU in a test; the others are built on the meta device (shapes only).
REAL = {"test_resnet", "test_efficientnet", "test_vit", "mobilenetv3_small_100", "convnext_atto",
        "vit_tiny_patch16_224", "deit_tiny_patch16_224", "cait_xxs24_224"}


def _config(name: str, size: int) -> ProjectConfig:
    config = ProjectConfig()
    config.model.architecture = name
    config.preprocessing.image_size = size
    return config


@pytest.mark.parametrize("name", TIMM_ENTRIES + EXTRA)
def test_every_timm_model_builds_at_32_px_or_is_refused(name: str) -> None:
    config = _config(name, 32)
    try:
        preflight_model(config, 1, 3)
    except ModelBuildError as error:  # a refusal must say which model, which size and what to do
        assert name in str(error) and "32" in str(error) and "image size" in str(error)
        return
    device = "cpu" if name in REAL else "meta"
    with torch.device(device):
        model = build_model(config, 1, 3).eval()
        out = model(torch.zeros(2, 1, 32, 32))
    assert tuple(out.shape) == (2, 3)


def test_registry_flag_agrees_with_timm() -> None:
    from timm.models import get_pretrained_cfg

    for name in TIMM_ENTRIES:
        fixed = bool(get_pretrained_cfg(name).fixed_input_size)
        assert ARCHITECTURES[name].takes_img_size == fixed, name
    # A timm name outside the registry: timm is asked, the name is not searched for "vit".
    assert architecture_info("swin_tiny_patch4_window7_224").takes_img_size is None
    assert takes_img_size("swin_tiny_patch4_window7_224") and takes_img_size("cait_xxs24_224")
    assert not takes_img_size("resnet18")


def test_swin_and_cait_work_at_32_px() -> None:
    for name in EXTRA:
        with torch.device("meta"):
            out = build_model(_config(name, 32), 3, 4).eval()(torch.zeros(2, 3, 32, 32))
        assert tuple(out.shape) == (2, 4)


def test_the_model_summary_refuses_an_impossible_size_clearly() -> None:
    from workbench.core.models.factory import model_summary

    with pytest.raises(ModelBuildError, match=r"test_vit cannot take 30×30 images .*patch size \(16\)"):
        model_summary(_config("test_vit", 30), 3, 4)
    assert model_summary(_config("swin_tiny_patch4_window7_224", 32), 3, 4).output_shape == (4,)


def test_an_impossible_size_is_refused_before_any_run_folder(shapes_dataset: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    config = tiny_config(shapes_dataset, runs)
    config.model.architecture = "test_vit"
    config.preprocessing.image_size = 30  # not a multiple of its 16-pixel patches
    result = train(config, monitors=[])
    assert result.status == "failed" and result.run_dir is None
    assert "test_vit" in result.reason and "30" in result.reason and "image size" in result.reason
    assert not [p for p in runs.glob("*") if p.is_dir()], "no run folder is made for a refused model"


def build_off_meta_only(config, info, in_channels: int, num_classes: int) -> torch.nn.Module:
    """A plugin builder that reads real tensors (as one loading weights from a file would)."""
    if torch.empty(1).device.type == "meta":
        raise RuntimeError("this builder cannot run on the meta device")
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(num_classes))


def test_a_builder_that_cannot_run_on_meta_is_not_refused() -> None:
    from workbench.core.models.registry import ArchitectureInfo, register_architecture

    register_architecture(ArchitectureInfo("off_meta", "Off meta", "Builds only on real devices.", "Plugin",
                                           builder=f"{__name__}:build_off_meta_only"))
    try:
        config = _config("off_meta", 32)
        preflight_model(config, 1, 3)  # no false refusal: the meta device, not the settings, failed
        assert build_model(config, 1, 3)(torch.zeros(2, 1, 32, 32)).shape == (2, 3)
    finally:
        ARCHITECTURES.pop("off_meta")
