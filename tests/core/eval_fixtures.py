"""Fixtures for the evaluation, export and report tests: tiny trained runs that each test may change freely.

Training happens once per test process (cached here, since pytest would otherwise rebuild a session
fixture for every module that imports it); each test then gets its own copy of the run folder.
Use with `from tests.core.eval_fixtures import *` in a test module.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import shape_image, tiny_config, write_shapes_dataset

__all__ = ["copy_run", "eval_dataset", "eval_run", "rgb_run", "template_runs", "with_own_dataset", "write_rgb_dataset"]

_CACHE: dict[str, Path] = {}
CLASSES = ("square", "hbar", "vbar")


def write_rgb_dataset(root: Path, per_class: int = 24, size: int = 16, seed: int = 1,
                      classes: tuple[str, ...] = CLASSES) -> Path:
    """Colour versions of the shapes (each class tinted differently), as RGB PNGs."""
    rng = np.random.default_rng(seed)
    for k, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            grey = shape_image(k, size, rng).astype(np.float32)
            tint = np.array([[1.0, 0.6, 0.4], [0.5, 1.0, 0.6], [0.6, 0.5, 1.0]][k % 3])
            rgb = np.clip(grey[:, :, None] * tint, 0, 255).astype(np.uint8)
            Image.fromarray(rgb, mode="RGB").save(folder / f"{name}_{i:03d}.png")
    return root


def _train(dataset: Path, runs_dir: Path) -> Path:
    from workbench.core.training.engine import train

    config = tiny_config(dataset, runs_dir, epochs=2)
    config.data.val_fraction = 0.2
    config.data.test_fraction = 0.2
    config.evaluation.bootstrap_samples = 200
    result = train(config, monitors=[])
    assert result.status == "completed", result.reason
    assert result.run_dir is not None
    return result.run_dir


def template_runs(factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The trained template runs (greyscale and RGB) and their datasets, built once per process."""
    if not _CACHE:
        base = factory.mktemp("eval-templates")
        grey = write_shapes_dataset(base / "grey", classes=3, per_class=30)
        rgb = write_rgb_dataset(base / "rgb")
        _CACHE.update(grey_data=grey, rgb_data=rgb, grey_run=_train(grey, base / "grey-runs"),
                      rgb_run=_train(rgb, base / "rgb-runs"))
    return _CACHE


def copy_run(run_dir: Path, dest_runs: Path) -> Path:
    """A private copy of a run folder inside `dest_runs` (so its test-set ledger is private too)."""
    dest_runs.mkdir(parents=True, exist_ok=True)
    target = dest_runs / run_dir.name
    shutil.copytree(run_dir, target, ignore=shutil.ignore_patterns("cache", "runs.sqlite*"))
    return target


def with_own_dataset(run_dir: Path, dest: Path) -> Path:
    """Give a copied run its own copy of the dataset at `dest`, so a test may delete or edit its images freely."""
    from workbench.core.config import load_config

    source = load_config(run_dir / "config.toml").data.source
    shutil.copytree(source, dest)
    for name in ("split.csv", "test_files.json", "config.toml", "data_report.json"):
        path = run_dir / name
        path.write_text(path.read_text(encoding="utf-8").replace(source, str(dest)), encoding="utf-8")
    return dest


@pytest.fixture
def eval_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The greyscale dataset the greyscale run was trained on (read-only)."""
    return template_runs(tmp_path_factory)["grey_data"]


@pytest.fixture
def eval_run(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    """A fresh copy of a finished greyscale run (3 classes, 16×16, small_cnn width 8, 2 epochs)."""
    return copy_run(template_runs(tmp_path_factory)["grey_run"], tmp_path / "runs")


@pytest.fixture
def rgb_run(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    """A fresh copy of a finished RGB run."""
    return copy_run(template_runs(tmp_path_factory)["rgb_run"], tmp_path / "runs")
