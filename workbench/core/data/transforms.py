"""Random augmentation of single images with torchvision.transforms.v2, on 0–1 scaled tensors."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchvision.transforms import v2

from workbench.core.config import AugmentationConfig


def build_augmentation(cfg: AugmentationConfig, size: int) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """A transform of one C×H×W float image in 0–1, or None when no augmentation is chosen."""
    if not cfg.enabled:
        return None
    steps: list[torch.nn.Module] = []
    if cfg.crop_scale < 1.0:
        steps.append(v2.RandomResizedCrop(size, scale=(cfg.crop_scale, 1.0), antialias=True))
    if cfg.hflip:
        steps.append(v2.RandomHorizontalFlip())
    if cfg.vflip:
        steps.append(v2.RandomVerticalFlip())
    if cfg.rotation > 0:
        steps.append(v2.RandomRotation(cfg.rotation))
    if cfg.brightness > 0 or cfg.contrast > 0:
        steps.append(v2.ColorJitter(brightness=cfg.brightness or None, contrast=cfg.contrast or None))
    if cfg.blur_sigma > 0:
        kernel = max(3, int(2 * round(2 * cfg.blur_sigma) + 1))
        kernel = min(kernel, size if size % 2 else size - 1)
        if kernel >= 3:
            steps.append(v2.RandomApply([v2.GaussianBlur(kernel, sigma=(0.1, cfg.blur_sigma))], p=0.5))
    if cfg.noise_std > 0:
        steps.append(v2.GaussianNoise(sigma=cfg.noise_std, clip=True))
    return v2.Compose(steps)


def augment_batch(batch: torch.Tensor, transform: Callable[[torch.Tensor], torch.Tensor] | None) -> torch.Tensor:
    """Apply `transform` to each image separately, so every image gets its own random draw."""
    if transform is None:
        return batch
    return torch.stack([transform(image) for image in batch])
