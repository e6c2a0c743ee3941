"""What every data check receives besides the data: where to put evidence, when to stop, and options."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.core.diagnostics.settings import DiagnosticsSettings


@dataclass
class CheckContext:
    evidence_dir: Path | None = None  # where PNG and .npy evidence is written; None writes nothing
    should_stop: Callable[[], bool] | None = None
    seed: int = 0
    settings: DiagnosticsSettings = field(default_factory=DiagnosticsSettings)
    pred_probs: np.ndarray | None = None  # out-of-sample class probabilities for every sample, when known

    def check_stop(self) -> None:
        """Raise InterruptedError when the caller asked to stop (as decoding does)."""
        if self.should_stop is not None and self.should_stop():
            raise InterruptedError("diagnostics cancelled")

    def evidence_path(self, name: str) -> Path | None:
        if self.evidence_dir is None:
            return None
        self.evidence_dir.mkdir(parents=True, exist_ok=True)
        return self.evidence_dir / name

    def rng(self, salt: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, salt])


def stratified_sample(labels: np.ndarray, per_class: int, rng: np.random.Generator,
                      pool: np.ndarray | None = None) -> np.ndarray:
    """Up to `per_class` random indices of each class (from `pool` when given), sorted."""
    pool = np.arange(len(labels)) if pool is None else np.asarray(pool)
    chosen = []
    for c in np.unique(labels[pool]):
        members = pool[labels[pool] == c]
        take = min(per_class, len(members))
        chosen.append(rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def grey_rows(array: np.ndarray, rows: np.ndarray, scale: float) -> np.ndarray:
    """Rows of the decoded cache as float32 greyscale in 0–1 (N×S×S)."""
    block = np.asarray(array[np.sort(rows)], dtype=np.float32) / scale
    order = np.argsort(np.argsort(rows))  # back to the caller's order
    block = block[order]
    if block.shape[1] == 3:
        return np.tensordot(block, np.array([0.299, 0.587, 0.114], dtype=np.float32), axes=([1], [0]))
    return block[:, 0]
