"""The report's figures, drawn with matplotlib and returned as PNG bytes.

Each function takes plain JSON-like data (as stored in the run folder), so the report can be rebuilt
at any time without the model or the images.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

DPI = 110


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    plt = _plt()
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return buffer.getvalue()


def _values(rows: list[dict[str, Any]], key: str) -> list[float]:
    return [float(r[key]) if isinstance(r.get(key), (int, float)) else np.nan for r in rows]


def curves_png(history: list[dict[str, Any]], best_epoch: int | None = None) -> bytes:
    """Loss (training and validation) and metrics per epoch, with the chosen epoch marked."""
    plt = _plt()
    epochs = [r.get("epoch") for r in history]
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax_loss.plot(epochs, _values(history, "train_loss"), "o-", ms=3, label="training")
    ax_loss.plot(epochs, _values(history, "val_loss"), "s-", ms=3, label="validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    for key, style, label in (("train_accuracy", "o-", "training accuracy"), ("accuracy", "s-", "validation accuracy"),
                              ("balanced_accuracy", "^--", "validation balanced accuracy"),
                              ("macro_f1", "d:", "validation macro F1")):
        if any(key in r for r in history):
            ax_metric.plot(epochs, _values(history, key), style, ms=3, label=label)
    ax_metric.set(xlabel="epoch", ylabel="score", title="Metrics", ylim=(0, 1.02))
    from matplotlib.ticker import MaxNLocator

    for ax in (ax_loss, ax_metric):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if best_epoch:
            ax.axvline(best_epoch, color="grey", ls=":", lw=1, label=f"chosen epoch ({best_epoch})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _png(fig)


def class_counts_png(class_names: Sequence[str], counts: dict[str, list[int]]) -> bytes:
    """Images per class in each split, as grouped horizontal bars."""
    plt = _plt()
    splits = [s for s in ("train", "val", "test") if counts.get(s)]
    k = len(class_names)
    fig, ax = plt.subplots(figsize=(8, max(2.2, 0.28 * k + 1.0)))
    height = 0.8 / max(len(splits), 1)
    y = np.arange(k)
    for i, split in enumerate(splits):
        ax.barh(y + i * height, counts[split], height=height, label=split)
    ax.set_yticks(y + height * (len(splits) - 1) / 2, [str(c)[:30] for c in class_names], fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="images", title="Images per class and split")
    ax.legend(fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def confusion_png(matrix: list[list[float]], class_names: Sequence[str], title: str = "Confusion matrix",
                  normalized: bool = False) -> bytes:
    """One confusion matrix (rows: true class, columns: predicted class), as counts or row-normalised shares."""
    plt = _plt()
    k = len(class_names)
    data = np.asarray(matrix, float).reshape(k, k) if k else np.zeros((0, 0))
    side = min(8.0, max(4.0, 0.5 * k + 2.2))
    fig, ax = plt.subplots(figsize=(side + 0.8, side))
    labels = [str(c)[:16] for c in class_names]
    top = float(data.max()) if data.size else 1.0
    image = ax.imshow(data, cmap="Blues", vmin=0, vmax=1.0 if normalized else max(top, 1e-9))
    tick = 11 if k <= 10 else 9 if k <= 20 else 7
    ax.set_xticks(range(k), labels, rotation=55, ha="right", fontsize=tick)
    ax.set_yticks(range(k), labels, fontsize=tick)
    ax.set_xlabel("predicted class", fontsize=11)
    ax.set_ylabel("true class", fontsize=11)
    ax.set_title(f"{title}:\nshare of each true class (rows sum to 1)" if normalized else f"{title}: counts", fontsize=12)
    if k <= 20 and data.size:
        fmt = "{:.2f}" if normalized else "{:.0f}"
        for i in range(k):
            for j in range(k):
                if data[i, j]:
                    ax.text(j, i, fmt.format(data[i, j]), ha="center", va="center", fontsize=10 if k <= 10 else 8 if k <= 14 else 6,
                            color="white" if data[i, j] > 0.6 * (1.0 if normalized else top) else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return _png(fig)


def roc_pr_png(curves: dict[str, Any]) -> bytes:
    """One-vs-rest ROC and precision-recall curves per class, with areas in the legend."""
    plt = _plt()
    per_class = curves.get("per_class", {})
    fig, (ax_roc, ax_pr) = plt.subplots(1, 2, figsize=(9, 3.9))
    show_legend = len(per_class) <= 12
    for name, c in per_class.items():
        ax_roc.plot(c["fpr"], c["tpr"], lw=1.2, label=f"{str(name)[:14]} (AUC {c['roc_auc']:.3f})")
        ax_pr.plot(c["recall"], c["precision"], lw=1.2, label=f"{str(name)[:14]} (AP {c['average_precision']:.3f})")
    ax_roc.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.02),
               title=f"ROC, one-vs-rest (macro AUC {curves.get('macro_roc_auc', float('nan')):.3f})")
    ax_pr.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
              title=f"Precision-recall (macro AP {curves.get('macro_average_precision', float('nan')):.3f})")
    for ax in (ax_roc, ax_pr):
        ax.grid(alpha=0.3)
        if show_legend:
            ax.legend(fontsize=6, loc="lower left" if ax is ax_pr else "lower right")
    return _png(fig)


def calibration_png(cal: dict[str, Any]) -> bytes:
    """Reliability diagram (accuracy against confidence per bin) and how many predictions fall in each bin."""
    plt = _plt()
    bins = cal.get("bins", [])
    centres = [(b["lower"] + b["upper"]) / 2 for b in bins]
    width = (bins[0]["upper"] - bins[0]["lower"]) if bins else 0.1
    acc = [b["accuracy"] if b["count"] else np.nan for b in bins]
    fig, (ax, ax_n) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax.bar(centres, acc, width=width * 0.9, color="#4c72b0", edgecolor="black", label="accuracy in bin")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.set(xlabel="confidence (top-class probability)", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1.02),
           title=f"Reliability diagram (ECE {cal.get('ece', float('nan')):.3f})")
    ax.legend(fontsize=7, loc="upper left")
    ax_n.bar(centres, [b["count"] for b in bins], width=width * 0.9, color="#dd8452", edgecolor="black")
    ax_n.set(xlabel="confidence", ylabel="predictions", xlim=(0, 1), title="Predictions per confidence bin")
    for a in (ax, ax_n):
        a.grid(alpha=0.3)
    return _png(fig)


def projection_png(projection: dict[str, Any], class_names: Sequence[str]) -> bytes:
    """The 2-D feature projection, coloured by class."""
    plt = _plt()
    points = np.asarray(projection.get("points", []), dtype=float).reshape(-1, 2)
    labels = list(projection.get("labels", []))
    names = list(projection.get("class_names") or class_names)
    as_names = [names[int(v)] if isinstance(v, (int, np.integer)) and 0 <= int(v) < len(names) else str(v) for v in labels]
    fig, ax = plt.subplots(figsize=(6.5, 5))
    order = list(dict.fromkeys(names + sorted(set(as_names) - set(names))))
    cmap = plt.get_cmap("tab10" if len(order) <= 10 else "tab20")
    for i, name in enumerate(order):
        mask = np.array([a == name for a in as_names], dtype=bool)
        if mask.any():
            ax.scatter(points[mask, 0], points[mask, 1], s=8, alpha=0.75, color=cmap(i % cmap.N), label=str(name)[:18])
    method = projection.get("method", "projection")
    where = projection.get("split") or projection.get("source") or ""
    ax.set(title=f"Feature projection ({method}{', ' + where if where else ''})", xticks=[], yticks=[])
    if len(order) <= 20:
        ax.legend(fontsize=7, markerscale=2, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _png(fig)
