"""Work that runs on background threads: thin wrappers around engine functions, all in this one module.

The panes, the Runs window, the learning-rate finder and Try it submit these to the TaskManager; only the
pitfall doctor's bridge (`workbench.qt.doctor`) and the findings' thumbnail reader keep theirs beside them.

The engine (and torch behind it) is imported inside each function, so importing the GUI never
loads torch, and nothing here ever runs on the GUI thread. Each function takes plain values and
returns plain values or engine dataclasses; those that take a `context` report progress and stop
when asked (see `workbench.qt.tasks.TaskContext`).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from workbench.core.config import DataConfig, PreprocessingConfig, ProjectConfig
    from workbench.core.data.discovery import DatasetScan
    from workbench.qt.eval_results import AttributionMaps, ExternalEvaluation, TestEvaluation
    from workbench.qt.tasks import TaskContext


@dataclass(frozen=True)
class DatasetOverview:
    """A scanned dataset and the split of each of its samples."""

    scan: DatasetScan
    splits: tuple[str, ...]

    def split_counts(self) -> dict[str, dict[str, int]]:
        """{class: {"train": n, "val": n, "test": n}}."""
        tally = Counter((s.label, split) for s, split in zip(self.scan.samples, self.splits, strict=True))
        return {c: {k: tally.get((c, k), 0) for k in ("train", "val", "test")} for c in self.scan.classes}

    def split_totals(self) -> dict[str, int]:
        tally = Counter(self.splits)
        return {k: tally.get(k, 0) for k in ("train", "val", "test")}


def compute_splits(scan: DatasetScan, data_cfg: DataConfig) -> tuple[str, ...]:
    from workbench.core.data.splits import splits_for

    return tuple(splits_for(scan.samples, scan.labels(), data_cfg))


def scan_dataset(data_cfg: DataConfig, context: TaskContext) -> DatasetOverview:
    """Find the dataset's images (raises DatasetError with a readable message) and split them."""
    from workbench.core.data.discovery import scan_dataset as engine_scan

    scan = engine_scan(
        data_cfg.source,
        data_cfg.layout,
        progress=lambda done, total: context.progress(done, total, "Checking images"),
        should_stop=context.should_stop,
    )
    return DatasetOverview(scan, compute_splits(scan, data_cfg))


def resplit(scan: DatasetScan, data_cfg: DataConfig) -> DatasetOverview:
    return DatasetOverview(scan, compute_splits(scan, data_cfg))


def norm_stats(config: ProjectConfig, context: TaskContext) -> Any:
    """Normalisation statistics of the training split (decodes the dataset)."""
    from workbench.core.data.pipeline import training_split_statistics

    return training_split_statistics(
        config,
        progress=lambda done, total: context.progress(done, total, "Computing statistics"),
        should_stop=context.should_stop,
    )


@dataclass(frozen=True)
class SamplePreview:
    label: str
    path: str
    original: np.ndarray
    network: np.ndarray
    error: str = ""


def sample_previews(items: list[tuple[str, str]], cfg: PreprocessingConfig, stats: Any,
                    context: TaskContext) -> list[SamplePreview]:
    """Original and network view of each (label, path); an unreadable file gets an error instead."""
    import numpy as np

    from workbench.core.data.preview import network_view

    previews = []
    for i, (label, path) in enumerate(items):
        if context.should_stop():
            raise InterruptedError
        try:
            original, network = network_view(path, cfg, stats)
            previews.append(SamplePreview(label, path, original, network))
        except Exception as error:
            blank = np.zeros((1, 1, 3), dtype=np.uint8)
            previews.append(SamplePreview(label, path, blank, blank, str(error)))
        context.progress(i + 1, len(items), "Rendering previews")
    return previews


def augmentation_views(path: str, cfg: PreprocessingConfig, n: int = 8, seed: int = 0) -> list[np.ndarray]:
    from workbench.core.data.preview import augmented_views

    return augmented_views(path, cfg, n=n, seed=seed)


def model_summary(config: ProjectConfig, in_channels: int, num_classes: int) -> Any:
    from workbench.core.config import with_updates
    from workbench.core.models.factory import model_summary as engine_summary

    offline = with_updates(config, {"model.pretrained": False})
    return engine_summary(offline, in_channels, num_classes)


def detect_devices() -> Any:
    from workbench.core.devices import detect_devices as engine_detect

    return engine_detect()


def list_runs(runs_dir: str) -> list[Any]:
    """Runs recorded under `runs_dir`, newest first."""
    if not runs_dir or not Path(runs_dir).is_dir():
        return []
    from workbench.core.runs import open_runs_folder

    return list(open_runs_folder(runs_dir).list_runs())  # a read-only archive is listed from its folders


def run_summary(run_dir: str) -> dict:
    """The stored summary of a run (run.json) with its per-epoch history, also while it is still going."""
    from workbench.core.evaluation.compare import run_history
    from workbench.core.run_folder import RunFolder

    folder = RunFolder(run_dir)
    return {**folder.read_status(), "history": run_history(folder.path)}


def export_run(run_dir: str, dest_dir: str, onnx: bool, context: TaskContext) -> dict:
    """Write the model bundle, TorchScript (and ONNX), model card, metrics.csv and curves.png; returns the summary
    with the written files under "files" and the parity checks of the exported models."""
    from workbench.core.export.run_export import export_model

    steps = iter(range(1, 100))
    return export_model(run_dir, dest_dir, onnx=onnx,
                        progress=lambda step: context.progress(next(steps), 0, step.capitalize()))


# --- evaluation (the Evaluate pane) -------------------------------------------------------------------


def _with_pictures(run_dir: str, metrics: dict[str, Any], stored: bool = False) -> TestEvaluation:
    """The evaluation with what it saved beside its metrics: the gallery pictures and the full robustness table."""
    import numpy as np
    from PIL import Image

    from workbench.core.evaluation import storage
    from workbench.core.runs import read_json
    from workbench.qt.eval_results import GalleryPicture, TestEvaluation

    folder = Path(run_dir)
    table = None
    if metrics.get("robustness"):
        table = read_json(storage.robustness_path(folder, "test"), None) or metrics["robustness"]
    pictures = None
    if metrics.get("gallery") is not None:
        pictures = []
        for item in metrics.get("gallery") or []:
            path = storage.gallery_dir(folder, "test") / item.get("png", "")
            try:
                with Image.open(path) as image:
                    strip = np.asarray(image.convert("RGB"))
            except OSError:
                strip = np.zeros((0, 0, 3), np.uint8)
            pictures.append(GalleryPicture(dict(item), strip))
        pictures = tuple(pictures)
    return TestEvaluation(dict(metrics), pictures, table, stored)


def run_test_evaluation(run_dir: str, tta: list[str], tta_rule: str, robustness: bool, gallery: int,
                        stop: threading.Event, context: TaskContext) -> TestEvaluation:
    """One recorded use of the test set with the chosen extras; see `evaluate_run`. Setting `stop` cancels:
    before scoring with InterruptedError (nothing recorded), after it by skipping the extras still to come."""
    from workbench.core.evaluation.evaluate import evaluate_run

    result = evaluate_run(run_dir, "test", tta=tta, tta_rule=tta_rule, robustness=robustness, gallery=gallery,
                          progress=lambda done, total: context.progress(done, total, "Reading the test images"),
                          should_stop=lambda: stop.is_set() or context.should_stop())
    return _with_pictures(run_dir, result)


def stored_test_evaluation(run_dir: str) -> TestEvaluation | None:
    """The last saved test evaluation with its pictures (reading it is not a use of the test set)."""
    from workbench.core.evaluation.storage import load_metrics

    stored = load_metrics(Path(run_dir), "test")
    return _with_pictures(run_dir, stored, stored=True) if stored else None


def run_external_evaluation(run_dir: str, folder: str, tta: list[str], tta_rule: str,
                            context: TaskContext) -> ExternalEvaluation:
    from workbench.core.evaluation.external import evaluate_external
    from workbench.qt.eval_results import ExternalEvaluation

    return ExternalEvaluation(evaluate_external(
        run_dir, folder, tta=tta, tta_rule=tta_rule,
        progress=lambda done, total: context.progress(done, total, "Reading the images")))


METHOD_NAMES = {"occlusion": "Occlusion", "gradcam": "Grad-CAM", "integrated_gradients": "Integrated gradients"}


def _attribution_maps(result: Any) -> AttributionMaps:
    """An engine AttributionResult as plain data for the GUI thread: arrays, findings and a caption."""
    from workbench.qt.eval_results import AttributionFinding, AttributionMaps

    findings = tuple(AttributionFinding(f.evidence.get("class", ""), f.severity, f.title, f.explanation, f.fix)
                     for f in result.findings)
    counts = [int(s.get("images", 0)) for s in result.stats.values() if isinstance(s, dict) and s.get("images")]
    method = METHOD_NAMES.get(result.method, result.method)
    if result.split == "train":
        caption = "Computed at the end of training, on training images; recompute to see the validation images."
    else:
        images = (f"{min(counts)}–{max(counts)}" if min(counts) != max(counts) else str(counts[0])) if counts else "some"
        caption = f"{method or 'Attributions'} on {images} correctly predicted validation images per class."
    if result.skipped:
        caption += f" No map for {', '.join(result.skipped)}: fewer than 3 of their images were predicted correctly."
    return AttributionMaps(list(result.class_names), result.maps, result.mean_images, findings, caption,
                           result.split, result.method)


def stored_attribution_maps(run_dir: str) -> AttributionMaps | None:
    """The attribution maps saved in the run's diagnostics folder (by the training monitor or on request), if any."""
    from workbench.core.diagnostics.run_attributions import load_attribution_result

    result = load_attribution_result(run_dir)
    return _attribution_maps(result) if result is not None else None


def compute_attribution_maps(run_dir: str, context: TaskContext) -> AttributionMaps:
    """Per-class mean attribution maps and the shortcut check on the run's validation images (saved with the run)."""
    from workbench.core.diagnostics.run_attributions import attribution_maps_for_run

    result = attribution_maps_for_run(run_dir, progress=lambda stage, done, total: context.progress(done, total, stage),
                                      should_stop=context.should_stop)
    return _attribution_maps(result)


# --- runs (the Runs window) ---------------------------------------------------------------------------

def is_resumable(run_dir: str, status: str) -> bool:
    """Whether Resume can continue this run (the run folder's one rule, shared by the Runs view and Train pane)."""
    from workbench.core.run_folder import RunFolder

    return bool(run_dir) and RunFolder(run_dir).resumable(status)


def list_run_rows(runs_dir: str) -> list[dict[str, Any]]:
    """Every indexed run as a dict (RunRecord fields plus `resumable`: a checkpoint to continue from)."""
    from dataclasses import asdict

    from workbench.core.runs import open_runs_folder

    if not runs_dir or not Path(runs_dir).is_dir():
        return []
    rows = []
    for record in open_runs_folder(runs_dir).list_runs():  # read-only archives are listed from their folders
        row = asdict(record)
        row["resumable"] = is_resumable(record.run_dir, record.status)
        rows.append(row)
    return rows


def compare_runs(run_dirs: list[str]) -> dict[str, Any]:
    from workbench.core.evaluation.compare import compare_runs as engine_compare

    return engine_compare(run_dirs)


def delete_run(runs_dir: str, run_id: str) -> str:
    from workbench.core.runs import RunStore

    RunStore(runs_dir).delete(run_id)
    return run_id


# --- the learning-rate finder, the report, Try it and the sample data ---------------------------------------


def run_lr_finder(config: ProjectConfig, steps: int, context: TaskContext) -> Any:
    """Worker thread: the engine's range test on the project's data (an LRFinderResult)."""
    from workbench.core.diagnostics.lr_finder import find_learning_rate

    return find_learning_rate(config, steps=steps, progress=context.progress, should_stop=context.should_stop)


def write_run_report(run_dir: str, out_dir: str) -> dict[str, Any]:
    """The run's report as HTML and PDF (the PDF may be missing, with the reason); runs on a worker thread."""
    from workbench.core.export.report import write_report
    from workbench.qt.report_pdf import html_to_pdf

    files = write_report(run_dir, out_dir, pdf=True, pdf_renderer=html_to_pdf)
    return {"html": str(files.html), "pdf": str(files.pdf) if files.pdf else "", "pdf_error": files.pdf_error}


TRY_IT_THUMB = 64
_models: dict[tuple[str, float], Any] = {}
_models_lock = threading.Lock()


def _load_model(source: str) -> Any:
    """The run or bundle at `source`, loaded once per file version (kept for repeated tries)."""
    from workbench.core.evaluation.predict import load_model
    from workbench.core.run_folder import RunFolder

    path = Path(source)
    marker = RunFolder(path).best_checkpoint if path.is_dir() else path
    key = (str(path.resolve()), marker.stat().st_mtime if marker.exists() else 0.0)
    with _models_lock:
        if key not in _models:
            _models.clear()
            _models[key] = load_model(source, device="cpu")
        return _models[key]


def predict_images(source: str, paths: list[str], context: TaskContext) -> dict[str, Any]:
    """Top-3 predictions and a thumbnail for each readable image; unreadable ones come back as problems."""
    import numpy as np
    from PIL import Image

    from workbench.core.evaluation.predict import predict_files

    run = _load_model(source)
    stage = ["Reading images"]  # each stage counts the images once: reading, then predicting
    predictions, problems = predict_files(run, [Path(p) for p in paths],
                                          progress=lambda done, total: context.progress(done, total, stage[0]),
                                          stage=lambda name: stage.__setitem__(0, name.capitalize()))
    rows = []
    for prediction in predictions:
        try:
            with Image.open(prediction.path) as image:
                image.thumbnail((TRY_IT_THUMB * 2, TRY_IT_THUMB * 2))
                thumb = np.asarray(image.convert("RGB"))
        except OSError:
            thumb = np.zeros((1, 1, 3), np.uint8)
        rows.append({"path": prediction.path, "top3": list(prediction.top3), "thumb": thumb})
    return {"model": str(source), "classes": list(run.class_names), "rows": rows, "problems": list(problems)}


def write_demo(dest: Path | None) -> Path:
    from workbench.core.demo import write_digits_dataset

    return write_digits_dataset(dest)


# Imported lazily by the diagnostics at the start and end of a run. Importing a large extension package holds
# the GIL for up to a few hundred milliseconds, which froze the window just as the live curves began.
WARM_UP_MODULES = ("workbench.core.training.engine", "workbench.core.diagnostics", "workbench.core.projection",
                   "cleanlab.filter", "captum.attr", "openTSNE",
                   # What a run imports as it starts, on the training thread: a module compiled there (no .pyc yet,
                   # or PYTHONDONTWRITEBYTECODE) holds the GIL for tens of milliseconds and stalls the window.
                   "workbench.core.models.builders", "workbench.core.strategies.common", "workbench.core.user_cache",
                   "workbench.core.diagnostics.check_store", "workbench.core.diagnostics.loss_monitors",
                   "workbench.core.diagnostics.network_monitors", "workbench.core.diagnostics.baseline_monitor",
                   "workbench.core.diagnostics.background", "workbench.core.projection.monitor",
                   "workbench.core.projection.worker", "workbench.core.projection.job",
                   "workbench.core.projection.methods", "workbench.core.projection.scores",
                   "workbench.core.projection.deferred",
                   "torch.utils.serialization", "platformdirs", "tabulate")


def warm_up() -> None:
    """Import torch, the training engine and what the diagnostics load lazily, so the first run starts promptly
    and smoothly."""
    import importlib

    for name in WARM_UP_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # a missing optional package is reported where it is used, with what to install
            continue
    import gc

    gc.freeze()  # the half million objects of the libraries live as long as the app: no collection walks them again
