"""Typed results of the Evaluate pane's background work: a test evaluation, an external one, attribution maps.

The engine returns plain dicts (they are also what is saved with the run); the workers wrap them here, so the
pane reads named fields rather than string keys, and a missing part reads as empty rather than as a KeyError.
No Qt and no torch here: the workers build these on a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class GalleryPicture:
    """One confidently wrong test image: the engine's entry (true/predicted class, confidence) and its strip."""

    info: dict[str, Any]
    strip: np.ndarray

    def as_item(self) -> dict[str, Any]:
        """The dict the gallery widget takes."""
        return {**self.info, "strip": self.strip}


@dataclass(frozen=True)
class TestEvaluation:
    """A test-set evaluation: the engine's metrics dict plus the pictures saved beside it."""

    metrics: dict[str, Any]
    gallery: tuple[GalleryPicture, ...] | None = None  # None: not requested
    robustness_table: Any = None
    stored: bool = False  # read back from the run folder, not a new look at the test set

    def get(self, key: str, default: Any = None) -> Any:
        return self.metrics.get(key, default)

    @property
    def accuracy(self) -> float | None:
        return self.metrics.get("accuracy")

    @property
    def test_uses(self) -> int:
        return int(self.metrics.get("test_uses") or 0)

    @property
    def all_test_uses(self) -> int:
        """Looks at these test images by every run and project (the ledger), at least this run's own."""
        return max(self.test_uses, int(self.metrics.get("project_test_uses") or 0))

    @property
    def skipped(self) -> list[str]:
        return list(self.metrics.get("skipped") or [])

    @property
    def warning(self) -> str:
        return str(self.metrics.get("warning") or "")

    @property
    def checkpoint_epoch(self) -> Any:
        return self.metrics.get("checkpoint_epoch")

    @property
    def class_names(self) -> list[str]:
        return list(self.metrics.get("class_names") or [])

    @property
    def per_class(self) -> dict[str, dict[str, Any]]:
        return dict(self.metrics.get("per_class") or {})

    @property
    def images(self) -> int:
        """How many test images were scored."""
        count = self.metrics.get("images") or self.metrics.get("support")
        return int(count) if count else sum(int(v.get("support", 0)) for v in self.per_class.values())

    @property
    def tta(self) -> Any:
        return self.metrics.get("tta")


@dataclass(frozen=True)
class ExternalEvaluation:
    """Metrics on a separate labelled folder, with the stored internal test score to compare against."""

    metrics: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.metrics.get(key, default)

    @property
    def images(self) -> Any:
        return self.metrics.get("images", self.metrics.get("support", "?"))

    @property
    def source(self) -> str:
        return str(self.metrics.get("source", self.metrics.get("name", "")))

    @property
    def internal_test(self) -> dict[str, Any]:
        return dict(self.metrics.get("internal_test") or {})


@dataclass(frozen=True)
class AttributionFinding:
    class_name: str
    severity: str
    title: str
    explanation: str
    fix: str

    def as_dict(self) -> dict[str, str]:
        """The dict the maps widget takes."""
        return {"class": self.class_name, "severity": self.severity, "title": self.title,
                "explanation": self.explanation, "fix": self.fix}


@dataclass(frozen=True)
class AttributionMaps:
    """Per-class mean attribution maps, as plain data for the GUI thread."""

    class_names: list[str]
    maps: Any
    mean_images: Any
    findings: tuple[AttributionFinding, ...] = ()
    caption: str = ""
    split: str = "val"
    method: str = ""
