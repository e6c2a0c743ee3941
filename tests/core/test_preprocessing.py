"""Resizing, channels, normalisation statistics from the training split only, and the decoded cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.core.config import ProjectConfig
from workbench.core.data import cache as cache_module
from workbench.core.data.cache import decode_dataset
from workbench.core.data.discovery import scan_dataset
from workbench.core.data.pipeline import prepare_data
from workbench.core.data.preprocess import convert_channels, resize_chw
from workbench.core.data.preview import augmented_views, network_view
from workbench.core.data.stats import compute_norm_stats, denormalize, normalize


def test_resize_modes_keep_or_drop_aspect() -> None:
    wide = np.zeros((10, 40, 1), np.uint8)
    wide[:, 15:25] = 255  # a bright centre
    squash = resize_chw(wide, 20, "squash")
    crop = resize_chw(wide, 20, "center_crop")
    letter = resize_chw(wide, 20, "letterbox")
    assert squash.shape == crop.shape == letter.shape == (1, 20, 20)
    assert letter[0, 0].max() == 0 and letter[0, 10].max() > 0, "letterbox pads top and bottom"
    assert crop[0, :, 10].min() > 200, "centre crop keeps the bright middle at full height"


def test_channel_conversion() -> None:
    rgb = np.dstack([np.full((2, 2), v, np.uint8) for v in (255, 0, 0)])
    assert convert_channels(rgb, "grayscale").shape == (2, 2, 1)
    assert convert_channels(rgb[:, :, :1], "rgb").shape == (2, 2, 3)


def test_statistics_come_from_the_training_split_only() -> None:
    array = np.zeros((4, 1, 2, 2), np.uint8)
    array[2:] = 255  # the last two rows are not training images
    stats = compute_norm_stats(array, [0, 1], "zscore", 255.0)
    assert stats.mean == [0.0] and stats.maximum == 0.0


@pytest.mark.parametrize("mode", ["none", "minmax", "zscore", "imagenet"])
def test_normalize_inverts(mode: str) -> None:
    array = (np.random.default_rng(0).random((6, 3, 4, 4)) * 255).astype(np.uint8)
    stats = compute_norm_stats(array, range(6), mode, 255.0)
    batch = torch.from_numpy(array).float() / 255
    out = normalize(batch, stats)
    torch.testing.assert_close(denormalize(out, stats), batch, atol=1e-5, rtol=1e-5)
    if mode == "zscore":
        assert abs(float(out.mean())) < 1e-4
    if mode == "none":
        assert float(out.max()) > 200, "'none' feeds raw pixel values"


def test_cache_decodes_once_and_can_live_on_disk(shapes_dataset: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    samples = scan_dataset(shapes_dataset).samples
    cfg = ProjectConfig().preprocessing.model_copy(update={"image_size": 8, "cache": "disk"})
    cache_module.clear_cache()
    first = decode_dataset(samples, cfg, cache_dir=tmp_path)
    assert first.on_disk and (tmp_path / "decoded.npy").exists()
    assert first.array.shape == (90, 1, 8, 8) and first.channels == "grayscale"
    calls = []
    monkeypatch.setattr(cache_module, "read_image", lambda p: calls.append(p))
    again = decode_dataset(samples, cfg, cache_dir=tmp_path)
    assert again is first and not calls, "a second pass must not decode any file"


def test_auto_channels_pick_rgb_when_any_image_is_colour(tmp_path: Path) -> None:
    from PIL import Image

    for cls, mode in (("a", "L"), ("b", "RGB")):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.new(mode, (5, 5)).save(tmp_path / cls / f"{i}.png")
    config = ProjectConfig(runs_dir=str(tmp_path / "runs"))
    config.data.source = str(tmp_path)
    assert prepare_data(config).images.channels == "rgb"


def test_previews(shapes_dataset: Path) -> None:
    path = next(shapes_dataset.glob("square/*.png"))
    cfg = ProjectConfig().preprocessing.model_copy(update={"image_size": 32})
    original, seen = network_view(path, cfg)
    assert original.shape == (16, 16, 3) and seen.shape == (32, 32, 3) and seen.dtype == np.uint8
    cfg.augmentation.rotation = 30
    cfg.augmentation.hflip = True
    views = augmented_views(path, cfg, n=4)
    assert len(views) == 4 and any(not np.array_equal(views[0], v) for v in views[1:])
