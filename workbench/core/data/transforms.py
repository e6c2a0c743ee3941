"""Random augmentation of single images with torchvision.transforms.v2, on 0–1 scaled tensors.

The augmentation registry (`workbench.core.catalog.augmentations`) names the builders below; the pipeline
is every active entry's transform, in the registry's order.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchvision.transforms import v2

from workbench.core.catalog import resolve
from workbench.core.catalog.augmentations import AUGMENTATIONS
from workbench.core.config import AugmentationConfig

Transform = Callable[[torch.Tensor], torch.Tensor]


def random_crop(scale: float, size: int) -> Transform:
    return v2.RandomResizedCrop(size, scale=(scale, 1.0), antialias=True)


def hflip(_on: bool, _size: int) -> Transform:
    return v2.RandomHorizontalFlip()


def vflip(_on: bool, _size: int) -> Transform:
    return v2.RandomVerticalFlip()


def rotation(degrees: float, _size: int) -> Transform:
    return v2.RandomRotation(degrees)


def brightness(strength: float, _size: int) -> Transform:
    return v2.ColorJitter(brightness=strength)


def contrast(strength: float, _size: int) -> Transform:
    return v2.ColorJitter(contrast=strength)


def blur(sigma: float, size: int) -> Transform | None:
    kernel = max(3, int(2 * round(2 * sigma) + 1))
    kernel = min(kernel, size if size % 2 else size - 1)
    if kernel < 3:  # the image is too small for any blur kernel
        return None
    return v2.RandomApply([v2.GaussianBlur(kernel, sigma=(0.1, sigma))], p=0.5)


def noise(std: float, _size: int) -> Transform:
    return v2.GaussianNoise(sigma=std, clip=True)


def build_augmentation(cfg: AugmentationConfig, size: int) -> Transform | None:
    """A transform of one C×H×W float image in 0–1, or None when no augmentation is chosen."""
    if not cfg.enabled:
        return None
    steps = []
    for info in sorted(AUGMENTATIONS.values(), key=lambda a: a.order):
        value = cfg.value(info.name)
        if info.active(value):
            step = resolve(info.builder)(value, size)
            if step is not None:
                steps.append(step)
    return v2.Compose(steps)


def augment_batch(batch: torch.Tensor, transform: Transform | None) -> torch.Tensor:
    """Apply `transform` to each image separately, so every image gets its own random draw."""
    if transform is None:
        return batch
    return torch.stack([transform(image) for image in batch])
