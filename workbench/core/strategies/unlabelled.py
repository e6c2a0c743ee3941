"""The images a pretraining stage learns from: a folder of unlabelled images, or the training split without labels.

Images of the labelled dataset's validation and test splits are always left out, so pretraining never
sees the images that judge the model: the same files (also through links) and byte-identical copies of them.
"""

from __future__ import annotations

import hashlib
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


def _sha256(path: str | Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None  # unreadable: decoding will skip it and say so
    return digest.hexdigest()


def _size(path: str | Path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return -1


def without_held_out(files: list[Path], held_out: list[str]) -> list[Path]:
    """`files` less those that are a held-out image: the same file (also through a link) or a byte-identical copy.

    Only files whose size equals a held-out file's are hashed, so a folder of other images costs one stat each.
    """
    real = {os.path.realpath(p) for p in held_out}
    sizes: dict[int, list[str]] = {}
    for path in held_out:
        sizes.setdefault(_size(path), []).append(path)
    same_size = [f for f in files if os.path.realpath(f) not in real and _size(f) in sizes]
    hashes = {h for s in {_size(f) for f in same_size} for h in map(_sha256, sizes[s]) if h}
    copies = {f for f in same_size if _sha256(f) in hashes}
    return [f for f in files if os.path.realpath(f) not in real and f not in copies]


def pretraining_images(context: StrategyContext) -> PretrainImages:
    data, scfg = context.data, context.config.strategy
    if not scfg.unlabelled_dir:
        rows = data.indices("train")
        return PretrainImages(data.images.array, data.images.value_scale, rows,
                              f"{len(rows)} training images (labels ignored)")
    folder = Path(scfg.unlabelled_dir).expanduser().resolve()
    if not folder.is_dir():
        raise ConfigError(f"the unlabelled image folder {folder} does not exist")
    held_out = [s.path for s, split in zip(data.samples, data.splits, strict=True) if split != "train"]
    files = image_files(folder)
    kept = without_held_out(files, held_out)
    if len(kept) < len(files):
        context.emit(LogMessage("warning", f"{len(files) - len(kept)} unlabelled image(s) are validation or test images "
                                           "of the labelled dataset (the same file, or a file with the same content) "
                                           "and were left out of pretraining"))
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
