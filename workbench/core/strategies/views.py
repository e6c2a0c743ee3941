"""Two random views of each image for self-supervised learning, with torchvision.transforms.v2 on 0–1 tensors.

Each method keeps its paper's recipe: random resized crop, flip and colour jitter for all; SimCLR (Chen et
al. 2020) and SimSiam (Chen & He 2021) treat both views alike with blur half the time; BYOL (Grill et al.
2020), whose recipe Barlow Twins reuses, blurs the first view always and the second rarely, and solarises
the second. Grey images get brightness and contrast jitter only; blur is used only on images of 32 pixels
or more (on smaller ones it wipes out the content). Crops keep at least a quarter of the image, as the
small images Workbench meets have little to spare.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torchvision.transforms import v2

from workbench.core.data.transforms import augment_batch

Transform = Callable[[torch.Tensor], torch.Tensor]
MIN_CROP = 0.25


@dataclass(frozen=True)
class ViewRecipe:
    jitter: tuple[float, float, float, float]  # brightness, contrast, saturation, hue
    blur: float  # probability of a Gaussian blur
    solarize: float  # probability of solarisation


RECIPES: dict[str, tuple[ViewRecipe, ViewRecipe]] = {
    "simclr": (ViewRecipe((0.8, 0.8, 0.8, 0.2), 0.5, 0.0),) * 2,
    "simsiam": (ViewRecipe((0.4, 0.4, 0.4, 0.1), 0.5, 0.0),) * 2,
    "byol": (ViewRecipe((0.4, 0.4, 0.2, 0.1), 1.0, 0.0), ViewRecipe((0.4, 0.4, 0.2, 0.1), 0.1, 0.2)),
    "barlow_twins": (ViewRecipe((0.4, 0.4, 0.2, 0.1), 1.0, 0.0), ViewRecipe((0.4, 0.4, 0.2, 0.1), 0.1, 0.2)),
}


def view_pipeline(recipe: ViewRecipe, size: int, channels: int) -> Transform:
    brightness, contrast, saturation, hue = recipe.jitter
    steps: list[torch.nn.Module] = [v2.RandomResizedCrop(size, scale=(MIN_CROP, 1.0), antialias=True),
                                    v2.RandomHorizontalFlip()]
    if channels == 3:
        steps += [v2.RandomApply([v2.ColorJitter(brightness, contrast, saturation, hue)], p=0.8),
                  v2.RandomGrayscale(p=0.2)]
    else:
        steps.append(v2.RandomApply([v2.ColorJitter(brightness=brightness, contrast=contrast)], p=0.8))
    if size >= 32 and recipe.blur > 0:
        kernel = 2 * (size // 20) + 1  # about a tenth of the image, odd
        steps.append(v2.RandomApply([v2.GaussianBlur(kernel, sigma=(0.1, 2.0))], p=recipe.blur))
    if recipe.solarize > 0:
        steps.append(v2.RandomSolarize(threshold=0.5, p=recipe.solarize))
    return v2.Compose(steps)


def ssl_views(method: str, size: int, channels: int) -> tuple[Transform, Transform]:
    """The transforms of the first and of the second view for `method`."""
    first, second = RECIPES[method]
    return view_pipeline(first, size, channels), view_pipeline(second, size, channels)


def two_views(batch: torch.Tensor, views: tuple[Transform, Transform]) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image transformed once by each view's transform, independently."""
    return augment_batch(batch, views[0]), augment_batch(batch, views[1])
