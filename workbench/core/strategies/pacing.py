"""Pacing functions of curriculum learning (Hacohen & Weinshall 2019): the share of training data per epoch,
and the class-balanced subset of the easiest images that makes up that share."""

from __future__ import annotations

import math

import numpy as np

PACINGS = ("exponential", "step", "linear")


def pacing_fraction(epoch: int, pacing: str, start: float, growth: float, step_length: int) -> float:
    """Share of each class's images in use in `epoch` (1-based); stages last `step_length` epochs.

    exponential: start × growth^stage (fixed exponential pacing); step: start, then everything from the
    second stage on (Bengio et al. 2009's two-stage curriculum); linear: start × (stage + 1).
    """
    stage = max(0, epoch - 1) // max(1, step_length)
    if pacing == "exponential":
        share = start * growth**stage
    elif pacing == "step":
        share = start if stage == 0 else 1.0
    elif pacing == "linear":
        share = start * (stage + 1)
    else:
        raise ValueError(f"unknown pacing {pacing!r}; choose one of {', '.join(PACINGS)}")
    return min(1.0, share)


def easiest_subset(indices: np.ndarray, labels: np.ndarray, difficulty: np.ndarray, share: float) -> np.ndarray:
    """The easiest `share` of every class (at least one image each), so each stage keeps the class balance."""
    chosen = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        ranked = members[np.argsort(difficulty[members], kind="stable")]
        chosen.append(indices[ranked[: max(1, math.ceil(share * len(members)))]])
    return np.sort(np.concatenate(chosen)) if chosen else indices[:0]


def fill_epoch(subset_order: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """`length` indices drawn from the subset (whole reshuffled passes), so every epoch has as many steps as a
    full one: the budget and the learning-rate schedule then match training in random order."""
    if len(subset_order) == 0 or len(subset_order) >= length:
        return subset_order[:length]
    passes = [subset_order] + [rng.permutation(subset_order) for _ in range(math.ceil(length / len(subset_order)) - 1)]
    return np.concatenate(passes)[:length]
