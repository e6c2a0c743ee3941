"""Batch inference on a folder of new images with a trained run."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from workbench.core.data.cache import decode_dataset
from workbench.core.data.discovery import Sample, _walk_files, check_image_header
from workbench.core.data.errors import DatasetError
from workbench.core.data.stats import normalize
from workbench.core.evaluation.evaluate import LoadedRun, load_run


@dataclass(frozen=True)
class Prediction:
    path: str
    predicted: str
    confidence: float
    top3: list[tuple[str, float]]


def predict_files(run: LoadedRun, paths: list[Path], batch_size: int = 64,
                  progress: Callable[[int, int], None] | None = None) -> tuple[list[Prediction], list[tuple[str, str]]]:
    """Predictions for readable files, and (path, reason) for the others."""
    channels = read_channels(run)
    cfg = run.config.preprocessing.model_copy(update={"channels": channels, "cache": "memory"})
    samples = [Sample(str(p), "?") for p in paths]
    images = decode_dataset(samples, cfg, progress=progress, reuse=False)
    problems = [(s.path, s.reason) for s in images.failed]
    results: list[Prediction] = []
    with torch.no_grad():
        for start in range(0, len(images.kept), batch_size):
            rows = np.arange(start, min(start + batch_size, len(images.kept)))
            x = torch.from_numpy(np.asarray(images.array[rows])).float() / images.value_scale
            probs = torch.softmax(run.model(normalize(x, run.stats).to(run.device)).float(), 1).cpu().numpy()
            for row, p in zip(rows, probs, strict=True):
                order = np.argsort(-p)[:3]
                top = [(run.class_names[i], float(p[i])) for i in order]
                results.append(Prediction(samples[images.kept[row]].path, top[0][0], top[0][1], top))
    return results, problems


def read_channels(run: LoadedRun) -> str:
    from workbench.core.runs import read_json

    return read_json(run.run_dir / "data_report.json", {}).get("channels", "rgb")


def predict_folder(run_dir: str | Path, images_dir: str | Path, output: str | Path,
                   progress: Callable[[int, int], None] | None = None) -> tuple[int, list[tuple[str, str]]]:
    """Write file, predicted class, confidence and top-3 to `output` (CSV); returns (count, problems)."""
    folder = Path(images_dir)
    if not folder.is_dir():
        raise DatasetError(f"image folder {folder} does not exist; give a folder of images to classify")
    files = _walk_files(folder)
    usable = [f for f in files if check_image_header(f) is None]
    problems = [(str(f), check_image_header(f) or "") for f in files if f not in set(usable)]
    if not usable:
        raise DatasetError(f"no readable images in {folder}")
    run = load_run(run_dir)
    results, failed = predict_files(run, usable, progress=progress)
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "predicted", "confidence", "top1", "p1", "top2", "p2", "top3", "p3"])
        for r in results:
            cells: list[str | float] = [r.path, r.predicted, round(r.confidence, 6)]
            for name, p in r.top3 + [("", 0.0)] * (3 - len(r.top3)):
                cells += [name, round(p, 6) if name else ""]
            writer.writerow(cells)
    return len(results), problems + failed
