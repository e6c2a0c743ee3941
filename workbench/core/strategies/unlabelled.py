"""The images a pretraining stage learns from: a folder of unlabelled images, or the training split without labels.

Images of the labelled dataset's validation and test splits are always left out, so pretraining never
sees the images that judge the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from workbench.core.config import ConfigError
from workbench.core.data.cache import decode_dataset
from workbench.core.data.discovery import Sample
from workbench.core.data.reading import SUPPORTED_SUFFIXES
from workbench.core.events import LogMessage
from workbench.core.strategies.common import stage_reporter

if TYPE_CHECKING:
    from workbench.core.strategies.base import StrategyContext


@dataclass
class PretrainImages:
    array: np.ndarray  # N×C×S×S raw pixel values, as in the decoded cache
    value_scale: float
    rows: np.ndarray  # the rows of `array` used for pretraining
    description: str

    def load(self, rows: np.ndarray) -> torch.Tensor:
        """A float batch scaled to 0–1 (rows read in sorted order, which memory-mapped caches prefer)."""
        return torch.from_numpy(np.asarray(self.array[np.sort(rows)])).float().div_(self.value_scale)


def image_files(folder: Path) -> list[Path]:
    found = []
    for current, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(current) / f for f in sorted(files)
                  if not f.startswith(".") and Path(f).suffix.lower() in SUPPORTED_SUFFIXES]
    return found


def pretraining_images(context: StrategyContext) -> PretrainImages:
    data, scfg = context.data, context.config.strategy
    if not scfg.unlabelled_dir:
        rows = data.indices("train")
        return PretrainImages(data.images.array, data.images.value_scale, rows,
                              f"{len(rows)} training images (labels ignored)")
    folder = Path(scfg.unlabelled_dir).expanduser().resolve()
    if not folder.is_dir():
        raise ConfigError(f"the unlabelled image folder {folder} does not exist")
    held_out = {os.path.realpath(s.path) for s, split in zip(data.samples, data.splits, strict=True) if split != "train"}
    files = image_files(folder)
    kept = [f for f in files if os.path.realpath(f) not in held_out]
    if len(kept) < len(files):
        context.emit(LogMessage("warning", f"{len(files) - len(kept)} unlabelled image(s) are validation or test images "
                                           "of the labelled dataset and were left out of pretraining"))
    if not kept:
        raise ConfigError(f"no usable image in the unlabelled folder {folder} (Workbench reads "
                          f"{', '.join(sorted(SUPPORTED_SUFFIXES))})")
    # Decode with the labelled data's channels so the pretrained network takes the same input.
    preprocessing = context.config.preprocessing.model_copy(update={"channels": data.images.channels})
    decoded = decode_dataset([Sample(str(f), "") for f in kept], preprocessing,
                             progress=stage_reporter(context, "decoding unlabelled images"),
                             should_stop=lambda: context.control.stop_requested)
    if decoded.failed:
        context.emit(LogMessage("warning", f"{len(decoded.failed)} unlabelled file(s) could not be read and were skipped"))
    if not len(decoded.kept):
        raise ConfigError(f"none of the images in {folder} could be read")
    return PretrainImages(decoded.array, decoded.value_scale, np.arange(len(decoded.kept)),
                          f"{len(decoded.kept)} unlabelled images from {folder}")
