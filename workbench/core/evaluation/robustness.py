"""The robustness check (paper, section VI-B): evaluate on perturbed copies of the evaluation set.

A model that learned the task should score about the same on mildly perturbed images (a little noise,
a slight blur or shift). A large drop at a mild strength is a sign of poor generalisation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from workbench.core.evaluation.inference import EvalSet, predict_set
from workbench.core.evaluation.metrics import classification_metrics
from workbench.core.evaluation.perturbations import MILD_LEVELS, PERTURBATIONS, perturb

if TYPE_CHECKING:
    from workbench.core.evaluation.loaded_run import LoadedRun

DEFAULT_THRESHOLD = 0.10  # a drop of ten points at a mild strength is flagged


def _seeded(name: str, strength: float, seed: int) -> Callable[[Any], Any]:
    """The perturbation as a batch transform whose random draws differ from batch to batch but not from run to run."""
    calls = iter(range(1 << 30))
    return lambda x: perturb(x, name, strength, seed * 100_003 + next(calls))


def evaluate_robustness(
    run: LoadedRun,
    images: EvalSet,
    *,
    perturbations: Sequence[str] | None = None,
    metric: str = "balanced_accuracy",
    threshold: float = DEFAULT_THRESHOLD,
    seed: int = 0,
    clean_pred: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """A table with one row per (perturbation, strength): scores, drop against the clean score, and a flag."""
    chosen = list(perturbations) if perturbations is not None else list(PERTURBATIONS)
    unknown = [p for p in chosen if p not in PERTURBATIONS]
    if unknown:
        raise ValueError(f"unknown perturbation(s) {', '.join(unknown)}; choose from {', '.join(PERTURBATIONS)}")
    if metric not in ("accuracy", "balanced_accuracy", "macro_f1"):
        raise ValueError(f"robustness metric must be accuracy, balanced_accuracy or macro_f1, not {metric!r}")
    if clean_pred is None:
        clean_pred = predict_set(run, images)["pred"]
    clean = classification_metrics(images.labels, clean_pred, run.class_names)
    total = sum(len(PERTURBATIONS[p].strengths) for p in chosen)
    rows: list[dict[str, Any]] = []
    for name in chosen:
        info = PERTURBATIONS[name]
        for level, strength in enumerate(info.strengths):
            pred = predict_set(run, images, transform=_seeded(name, strength, seed * 1000 + len(rows)))["pred"]
            scores = classification_metrics(images.labels, pred, run.class_names)
            drop = clean[metric] - scores[metric]
            mild = level < MILD_LEVELS
            rows.append({
                "perturbation": name, "label": info.label, "strength": float(strength), "level": level + 1,
                "setting": info.describe(strength), "mild": mild,
                "accuracy": scores["accuracy"], "balanced_accuracy": scores["balanced_accuracy"],
                "macro_f1": scores["macro_f1"], "drop": float(drop),
                "changed_predictions": float(np.mean(pred != clean_pred)) if len(pred) else 0.0,
                "flagged": bool(mild and drop > threshold),
            })
            if progress is not None:
                progress(len(rows), total)
    flagged = sorted({r["label"] for r in rows if r["flagged"]})
    summary = (
        f"Large drop ({metric.replace('_', ' ')} falls by more than {threshold:.0%}) already at mild strength for: "
        f"{', '.join(flagged)}. This is a sign of poor generalisation: the model may rely on details that such small "
        "changes destroy. Consider augmentation with these perturbations, more varied training data, or a smaller model."
        if flagged else
        f"No large drop at mild strengths ({metric.replace('_', ' ')} falls by at most {threshold:.0%})."
    )
    return {
        "metric": metric, "threshold": threshold, "images": len(images), "split": images.name,
        "clean": {"accuracy": clean["accuracy"], "balanced_accuracy": clean["balanced_accuracy"],
                  "macro_f1": clean["macro_f1"]},
        "rows": rows, "flagged": flagged, "summary": summary,
    }


def plot_robustness(result: dict[str, Any], dest: Path | BinaryIO) -> Path | BinaryIO:
    """One small panel per perturbation: the score against strength, with the clean score as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = result["metric"]
    names = list(dict.fromkeys(r["perturbation"] for r in result["rows"]))
    cols = min(3, max(1, len(names)))
    nrows = max(1, int(np.ceil(len(names) / cols)))
    fig, axes = plt.subplots(nrows, cols, figsize=(3.1 * cols, 2.5 * nrows + 0.4), dpi=110, squeeze=False)
    clean = result["clean"][metric]
    for ax, name in zip(axes.ravel(), names, strict=False):
        rows = [r for r in result["rows"] if r["perturbation"] == name]
        levels = [0] + [r["level"] for r in rows]
        values = [clean] + [r[metric] for r in rows]
        ax.plot(levels, values, "o-", color="#1f77b4")
        for r in rows:
            if r["flagged"]:
                ax.plot(r["level"], r[metric], "o", color="#d62728", markersize=9)
        ax.axhline(clean, ls="--", color="grey", lw=1)
        ax.set_xticks(levels, ["clean"] + [r["setting"] for r in rows], rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 1.02)
        ax.set_title(rows[0]["label"], fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel(metric.replace("_", " "))
    fig.suptitle("Robustness: score on perturbed copies (red: large drop at a mild strength)", fontsize=12)
    fig.tight_layout()
    if isinstance(dest, Path):
        dest.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(dest, format="png")
    plt.close(fig)
    return dest
