"""Registry of test-time augmentations and of the rules that combine their views: the one TTA list.

The config validates against it, evaluation makes the views it names, and the CLI's help and the Evaluate
pane's check boxes are written from it, so every place shows the same names and labels. The view functions
need torch and are named as "module:function" (taking an N×C×H×W batch, returning one batch per view).
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.core.catalog import check_reference

_VIEWS = "workbench.core.evaluation.tta"


@dataclass(frozen=True)
class TtaInfo:
    name: str
    label: str
    description: str
    views: str  # "module:function", batch -> list of view batches
    view_names: tuple[str, ...]  # one per view that `views` makes, for tables


@dataclass(frozen=True)
class CombineRule:
    name: str
    label: str
    description: str


TTA_AUGMENTATIONS: dict[str, TtaInfo] = {
    t.name: t
    for t in (
        TtaInfo("hflip", "Horizontal flip", "Mirror left-right (for data without a preferred left or right).",
                f"{_VIEWS}:hflip_views", ("hflip",)),
        TtaInfo("vflip", "Vertical flip", "Mirror top-bottom (for microscopy, satellite and other top-down images).",
                f"{_VIEWS}:vflip_views", ("vflip",)),
        TtaInfo("rot90", "90° rotations", "Rotate by 90°, 180° and 270° (for images with no natural 'up').",
                f"{_VIEWS}:rot90_views", ("rot90", "rot180", "rot270")),
        TtaInfo("shift", "Small shifts", "Shift by 1/16 of the side right, left, down and up.", f"{_VIEWS}:shift_views",
                ("shift right", "shift left", "shift down", "shift up")),
        TtaInfo("rotate", "Small rotations", "Rotate by −10° and +10°.", f"{_VIEWS}:rotate_views",
                ("rotate −10°", "rotate +10°")),
        TtaInfo("zoom", "Slight zoom", "Crop the central 90% and enlarge it back.", f"{_VIEWS}:zoom_views",
                ("zoom 90%",)),
    )
}

COMBINE_RULES: dict[str, CombineRule] = {
    r.name: r
    for r in (
        CombineRule("mean", "Mean probability", "Mean of the probabilities of all views"),
        CombineRule("vote", "Majority vote", "Majority vote of the views' predictions (ties: higher mean probability)"),
    )
}


def register_tta(info: TtaInfo) -> None:
    """Add or replace a test-time augmentation (plugins use this through the `workbench.plugins` entry points)."""
    check_reference("test-time augmentation", info.name, info.views)
    if not info.view_names:
        raise ValueError(f"test-time augmentation {info.name!r} names no views")
    TTA_AUGMENTATIONS[info.name] = info


def tta_help() -> str:
    """The choices in one line, for the CLI's help."""
    return ", ".join(f"{t.name} ({t.label.lower()})" for t in TTA_AUGMENTATIONS.values())


def check_tta(augmentations: list[str] | tuple[str, ...], rule: str) -> None:
    unknown = [a for a in augmentations if a not in TTA_AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown test-time augmentation(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(TTA_AUGMENTATIONS)}")
    if rule not in COMBINE_RULES:
        raise ValueError(f"unknown combination rule {rule!r}; choose one of {', '.join(COMBINE_RULES)}")
