"""Registry of training augmentations: each entry builds its transform and describes its form row.

An entry is named after its setting in `preprocessing.augmentation` (a plugin's entries are set in that
section's `extra` table, by name). Its builder, named as "module:function", takes the setting's value and
the image side and returns a torchvision v2 transform (or None when the value turns it off); entries are
applied in `order`, so crops come before flips and noise comes last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.core.catalog import check_reference

_BUILD = "workbench.core.data.transforms"


@dataclass(frozen=True)
class AugmentationInfo:
    name: str
    label: str
    description: str
    builder: str  # "module:function(value, size) -> transform | None"
    off: Any = 0.0  # the value that turns it off
    order: int = 50  # position in the pipeline, small first

    def active(self, value: Any) -> bool:
        return value is not None and value != self.off


AUGMENTATIONS: dict[str, AugmentationInfo] = {
    a.name: a
    for a in (
        AugmentationInfo("crop_scale", "Random crop", "Smallest area kept by a random resized crop (1 = off).",
                         f"{_BUILD}:random_crop", off=1.0, order=10),
        AugmentationInfo("hflip", "Horizontal flip", "Randomly mirror images left-right.", f"{_BUILD}:hflip",
                         off=False, order=20),
        AugmentationInfo("vflip", "Vertical flip", "Randomly mirror images top-bottom.", f"{_BUILD}:vflip",
                         off=False, order=21),
        AugmentationInfo("rotation", "Rotation", "Largest random rotation, in degrees.", f"{_BUILD}:rotation",
                         order=30),
        AugmentationInfo("brightness", "Brightness", "Strength of random brightness changes.", f"{_BUILD}:brightness",
                         order=40),
        AugmentationInfo("contrast", "Contrast", "Strength of random contrast changes.", f"{_BUILD}:contrast",
                         order=41),
        AugmentationInfo("blur_sigma", "Blur", "Largest sigma of a random Gaussian blur, applied to half the images "
                         "(0 = off).", f"{_BUILD}:blur", order=60),
        AugmentationInfo("noise_std", "Noise", "Standard deviation of added Gaussian noise (on 0-1 images).",
                         f"{_BUILD}:noise", order=90),
    )
}


def register_augmentation(info: AugmentationInfo) -> None:
    """Add or replace an augmentation (plugins use this through the `workbench.plugins` entry points)."""
    check_reference("augmentation", info.name, info.builder)
    AUGMENTATIONS[info.name] = info


def augmentation_doc(name: str) -> str:
    """The one description of a built-in augmentation (the config field's description and the form's tooltip)."""
    return AUGMENTATIONS[name].description
