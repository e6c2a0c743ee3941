"""Saving a run's model with everything inference needs, and its metrics and curves as CSV and PNG."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from workbench.core.runs import read_json


def _history(run_dir: Path) -> list[dict]:
    status = read_json(run_dir / "run.json", {}) or {}
    if status.get("history"):
        return status["history"]
    rows = []
    path = run_dir / "metrics.jsonl"
    if path.exists():
        import json

        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def write_metrics_csv(run_dir: Path, dest: Path) -> Path:
    rows = _history(run_dir)
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns and not isinstance(row[k], (dict, list))]
    with dest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns or ["epoch"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return dest


def plot_curves(run_dir: Path, dest: Path) -> Path:
    """Loss and accuracy curves as a PNG a reviewer can read."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _history(run_dir)
    epochs = [r["epoch"] for r in rows]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4), dpi=120)
    ax_loss.plot(epochs, [r["train_loss"] for r in rows], "o-", label="training")
    ax_loss.plot(epochs, [r.get("val_loss") for r in rows], "s-", label="validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    ax_loss.legend()
    ax_acc.plot(epochs, [r.get("train_accuracy") for r in rows], "o-", label="training")
    ax_acc.plot(epochs, [r.get("accuracy") for r in rows], "s-", label="validation")
    ax_acc.plot(epochs, [r.get("balanced_accuracy") for r in rows], "^--", label="validation (balanced)")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy", ylim=(0, 1.02))
    ax_acc.legend()
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(dest)
    plt.close(fig)
    return dest


def export_run(run_dir: str | Path, dest_dir: str | Path) -> list[Path]:
    """Copy the best weights, config, class names and statistics; write metrics.csv and curves.png."""
    run_dir, dest_dir = Path(run_dir), Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    written = []
    checkpoint = run_dir / "checkpoints" / "best.pt"
    if not checkpoint.exists():
        checkpoint = run_dir / "checkpoints" / "last.pt"
    if not checkpoint.exists():
        raise FileNotFoundError(f"run {run_dir.name} has no checkpoint yet; train at least one epoch first")
    for source, name in ((checkpoint, "model.pt"), (run_dir / "config.toml", "config.toml"),
                         (run_dir / "classes.json", "classes.json"), (run_dir / "norm_stats.json", "norm_stats.json"),
                         (run_dir / "split.csv", "split.csv")):
        if source.exists():
            shutil.copyfile(source, dest_dir / name)
            written.append(dest_dir / name)
    for extra in ("test_metrics.json", "data_report.json"):
        if (run_dir / extra).exists():
            shutil.copyfile(run_dir / extra, dest_dir / extra)
            written.append(dest_dir / extra)
    written.append(write_metrics_csv(run_dir, dest_dir / "metrics.csv"))
    written.append(plot_curves(run_dir, dest_dir / "curves.png"))
    return written
