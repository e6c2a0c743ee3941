"""Forward passes over a set of decoded images, with optional perturbation and test-time augmentation.

Every evaluation (internal split, external folder, TTA, robustness, prediction on new files) goes
through `predict_set`, so they all see images prepared and normalised the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from workbench.core.data.stats import normalize
from workbench.core.evaluation.tta import check_tta, combine, make_views

if TYPE_CHECKING:
    from workbench.core.data.pipeline import PreparedData
    from workbench.core.evaluation.loaded_run import LoadedRun

Progress = Callable[[int, int], None]
Transform = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class EvalSet:
    """Images to evaluate: `rows` of the decoded cache `array` (N×C×S×S raw values), with labels and paths."""

    array: np.ndarray
    rows: np.ndarray
    labels: np.ndarray
    paths: list[str]
    value_scale: float
    name: str = "test"

    def __len__(self) -> int:
        return len(self.rows)

    def load(self, positions: np.ndarray) -> torch.Tensor:
        """Images at `positions` (0..len-1) as a float batch scaled to 0–1."""
        rows = self.rows[positions]
        order = np.argsort(rows)  # memory-mapped caches read fastest in ascending order
        block = np.asarray(self.array[rows[order]])
        x = torch.from_numpy(block).float().div_(self.value_scale)
        return x[torch.from_numpy(np.argsort(order))]


def eval_set_from_data(data: PreparedData, split: str) -> EvalSet:
    rows = data.indices(split)
    return EvalSet(data.images.array, rows, data.labels[rows], [data.samples[i].path for i in rows],
                   data.images.value_scale, split)


@torch.no_grad()
def forward_probs(run: LoadedRun, x01: torch.Tensor) -> torch.Tensor:
    """Class probabilities (on the CPU) for a 0–1 batch, normalised with the run's training statistics."""
    logits = run.model(normalize(x01, run.stats).to(run.device))
    return torch.softmax(logits.float(), dim=1).cpu()


@torch.no_grad()
def predict_set(
    run: LoadedRun,
    images: EvalSet,
    *,
    tta: Sequence[str] = (),
    rule: str = "mean",
    transform: Transform | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
    keep_views: bool = False,
) -> dict[str, Any]:
    """Probabilities and predictions for every image; with `tta`, of the combined views too.

    Returns `probs` (N×K, combined when TTA is on), `pred`, `labels`, and with `keep_views` the V×N×K
    probabilities of each view and the views' names (the first view is always the original image).
    """
    check_tta(tta, rule)
    run.model.eval()
    # Without gradients, batches can be larger than in training; fewer, larger batches are much faster on CPUs.
    size = batch_size or min(256, 4 * run.config.training.batch_size)
    n = len(images)
    k = len(run.class_names)
    combined, views_out, names = [], [], ["original"]
    for start in range(0, n, size):
        positions = np.arange(start, min(start + size, n))
        x = images.load(positions)
        if transform is not None:
            x = transform(x)
        views = make_views(x, tta)
        names = [name for name, _ in views]
        view_probs = torch.stack([forward_probs(run, v) for _, v in views])
        combined.append(combine(view_probs, rule) if len(views) > 1 else view_probs[0])
        if keep_views:
            views_out.append(view_probs)
        if progress is not None:
            progress(min(start + size, n), n)
    probs = torch.cat(combined).numpy() if combined else np.zeros((0, k), np.float32)
    out: dict[str, Any] = {"probs": probs, "pred": probs.argmax(axis=1) if n else np.zeros(0, np.int64),
                           "labels": images.labels}
    if keep_views:
        out["view_probs"] = torch.cat(views_out, dim=1).numpy() if views_out else np.zeros((len(names), 0, k))
        out["view_names"] = names
    return out
