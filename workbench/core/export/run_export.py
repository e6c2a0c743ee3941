"""Exporting a trained run: the `.wbmodel` bundle, TorchScript and ONNX files, the model card, metrics and curves.

`export_model` does the work and returns a summary (paths, and the ONNX and TorchScript parity checks);
`export_run` is the short form that returns the written paths.
"""

from __future__ import annotations

import csv
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.core.run_folder import RunFolder
from workbench.core.runs import write_json

Progress = Callable[[str], None]


def _history(run_dir: Path) -> list[dict]:
    from workbench.core.evaluation.compare import run_history

    return run_history(run_dir)


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
    """Loss and metric curves as a PNG a reviewer can read."""
    from workbench.core.export.report.plots import curves_png

    status = RunFolder(run_dir).read_status()
    dest.write_bytes(curves_png(_history(run_dir), status.get("best_epoch")))
    return dest


def export_model(run_dir: str | Path, dest_dir: str | Path, *, onnx: bool | None = None, torchscript: bool = True,
                 progress: Progress | None = None) -> dict[str, Any]:
    """Write the bundle, TorchScript and ONNX files (each checked against PyTorch), the model card, metrics.csv
    and curves.png into `dest_dir`; returns a summary that is also saved as export.json there and in the run."""
    from workbench.core.evaluation.run_loading import load_run
    from workbench.core.export.bundle import bundle_metrics, write_bundle
    from workbench.core.export.deploy import PARITY_TOLERANCE, export_onnx, export_torchscript, sample_images
    from workbench.core.export.model_card import model_card_markdown

    def say(step: str) -> None:
        if progress is not None:
            progress(step)

    run_dir, dest_dir = Path(run_dir).expanduser().resolve(), Path(dest_dir).expanduser()
    dest_dir.mkdir(parents=True, exist_ok=True)
    if not RunFolder(run_dir).has_weights():
        raise FileNotFoundError(f"run {run_dir.name} has no checkpoint yet; train at least one epoch first")
    say("loading the model")
    run = load_run(run_dir, device="cpu")
    card = model_card_markdown(run, bundle_metrics(run))
    summary: dict[str, Any] = {"run_id": run_dir.name, "exported": time.strftime("%Y-%m-%d %H:%M:%S"),
                               "tolerance": PARITY_TOLERANCE, "files": {}}
    say("writing the model bundle")
    summary["files"]["bundle"] = str(write_bundle(run, dest_dir, model_card=card))
    (dest_dir / "MODEL_CARD.md").write_text(card, encoding="utf-8")
    summary["files"]["model_card"] = str(dest_dir / "MODEL_CARD.md")
    samples, source = sample_images(run)
    summary["check_images"] = source
    if torchscript:
        say("exporting TorchScript")
        check = export_torchscript(run, dest_dir / "model.torchscript.pt", samples)
        summary["files"]["torchscript"] = str(check.path)
        summary["torchscript_max_abs_diff"] = check.max_abs_diff
    if onnx if onnx is not None else run.config.export.onnx:
        say("exporting ONNX and checking it with onnxruntime")
        check = export_onnx(run, dest_dir / "model.onnx", samples)
        summary["files"]["onnx"] = str(check.path)
        summary["onnx_max_abs_diff"] = check.max_abs_diff
        summary["onnx_exporter"] = check.exporter
        summary["onnx_passed"] = check.passed
    say("writing metrics and curves")
    summary["files"]["metrics_csv"] = str(write_metrics_csv(run_dir, dest_dir / "metrics.csv"))
    summary["files"]["curves"] = str(plot_curves(run_dir, dest_dir / "curves.png"))
    split = RunFolder(run_dir).split
    if split.exists():
        shutil.copyfile(split, dest_dir / split.name)
        summary["files"]["split"] = str(dest_dir / split.name)
    write_json(dest_dir / "export.json", summary)
    write_json(run_dir / "exports" / "export.json", summary)  # the report shows the latest export's checks
    return summary


def export_run(run_dir: str | Path, dest_dir: str | Path) -> list[Path]:
    """Export everything (see export_model) and return the written files."""
    summary = export_model(run_dir, dest_dir)
    return [Path(p) for p in summary["files"].values()] + [Path(dest_dir) / "export.json"]
