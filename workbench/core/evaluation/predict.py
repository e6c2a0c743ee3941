"""Batch inference on a folder of new images with a trained run or a `.wbmodel` bundle."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.core.data.cache import decode_dataset
from workbench.core.data.discovery import Sample, _walk_files, check_image_header
from workbench.core.data.errors import DatasetError
from workbench.core.evaluation.inference import EvalSet, predict_set
from workbench.core.evaluation.loaded_run import LoadedRun
from workbench.core.evaluation.run_loading import load_run

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Prediction:
    path: str
    predicted: str
    confidence: float
    top3: list[tuple[str, float]]
    plain_predicted: str = ""  # with TTA: the prediction of the original image alone
    plain_confidence: float = float("nan")


def load_model(run_or_bundle: str | Path | LoadedRun, device: str = "auto") -> LoadedRun:
    """A run folder or a `.wbmodel` bundle, ready for inference."""
    if isinstance(run_or_bundle, LoadedRun):
        return run_or_bundle
    return load_run(run_or_bundle, device=device)


def read_channels(run: LoadedRun) -> str:
    return run.channels


def predict_files(run: LoadedRun, paths: list[Path], batch_size: int = 64, progress: Progress | None = None,
                  tta: Sequence[str] = (), tta_rule: str = "mean", stage: Callable[[str], None] | None = None,
                  ) -> tuple[list[Prediction], list[tuple[str, str]]]:
    """Predictions for readable files, and (path, reason) for the others.

    `progress(done, total)` counts images, in each of two stages: reading the files, then predicting them;
    `stage(name)` is told when each stage starts, so a progress bar can say which one it counts.
    """
    cfg = run.config.preprocessing.model_copy(update={"channels": run.channels, "cache": "memory"})
    samples = [Sample(str(p), "?") for p in paths]
    if stage is not None:
        stage("reading images")
    images = decode_dataset(samples, cfg, progress=progress, reuse=False)
    problems = [(s.path, s.reason) for s in images.failed]
    n = len(images.kept)
    if stage is not None:
        stage("predicting")
    image_set = EvalSet(images.array, np.arange(n), np.zeros(n, np.int64), [samples[i].path for i in images.kept],
                        images.value_scale, "new")
    out = predict_set(run, image_set, tta=tta, rule=tta_rule, batch_size=batch_size, keep_views=bool(tta),
                      progress=progress)
    if progress is not None:
        progress(n, n)
    results: list[Prediction] = []
    for row, p in enumerate(out["probs"]):
        order = np.argsort(-p)[:3]
        top = [(run.class_names[i], float(p[i])) for i in order]
        plain_name, plain_conf = "", float("nan")
        if tta:
            plain = out["view_probs"][0][row]
            plain_name, plain_conf = run.class_names[int(plain.argmax())], float(plain.max())
        results.append(Prediction(image_set.paths[row], top[0][0], top[0][1], top, plain_name, plain_conf))
    return results, problems


def predict_folder(run_dir: str | Path | LoadedRun, images_dir: str | Path, output: str | Path,
                   progress: Progress | None = None, tta: Sequence[str] = (), tta_rule: str = "mean",
                   device: str = "auto", stage: Callable[[str], None] | None = None) -> tuple[int, list[tuple[str, str]]]:
    """Write file, predicted class, confidence and top-3 to `output` (CSV); returns (count, problems).

    `run_dir` is a run folder or a `.wbmodel` bundle. With `tta`, the plain prediction is written beside it.
    """
    folder = Path(images_dir)
    if not folder.is_dir():
        raise DatasetError(f"image folder {folder} does not exist; give a folder of images to classify")
    files = _walk_files(folder)
    reasons = {f: check_image_header(f) for f in files}
    usable = [f for f in files if reasons[f] is None]
    problems = [(str(f), reasons[f] or "") for f in files if reasons[f] is not None]
    if not usable:
        raise DatasetError(f"no readable images in {folder}")
    run = load_model(run_dir, device)
    results, failed = predict_files(run, usable, progress=progress, tta=tta, tta_rule=tta_rule, stage=stage)
    write_predictions_csv(results, Path(output), with_plain=bool(tta))
    return len(results), problems + failed


def write_predictions_csv(results: list[Prediction], output: Path, with_plain: bool = False) -> Path:
    """Written atomically: an interrupted write never leaves half a CSV."""
    import io

    from workbench.core.io import atomic_write_text

    with io.StringIO(newline="") as handle:
        writer = csv.writer(handle)
        header = ["file", "predicted", "confidence", "top1", "p1", "top2", "p2", "top3", "p3"]
        writer.writerow(header + (["predicted_without_tta", "confidence_without_tta"] if with_plain else []))
        for r in results:
            cells: list[str | float] = [r.path, r.predicted, round(r.confidence, 6)]
            for name, p in r.top3 + [("", 0.0)] * (3 - len(r.top3)):
                cells += [name, round(p, 6) if name else ""]
            if with_plain:
                cells += [r.plain_predicted, round(r.plain_confidence, 6)]
            writer.writerow(cells)
        atomic_write_text(output, handle.getvalue())
    return output
