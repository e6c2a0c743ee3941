"""Per-class mean attribution maps of a finished run, on demand (the shortcut check of section II-E).

`attribution_maps_for_run` loads the run's best weights and its validation images the way evaluation
does, runs `shortcut_check` on them, and writes the evidence beside the run's other diagnostics:
`diagnostics/attribution_maps.npy` (C×H×W, the names the training monitor uses), `.txt` (class names),
`.png`, plus `attribution_images.npy` (each class's mean image, for overlays) and
`attribution_report.json` (method, findings, the images used). The locked test split is never used:
its images are decoded with the rest (decoding the whole manifest is what fixes channels and dtype
exactly as in training), but no prediction is made on them and no use is recorded.

`load_attribution_maps` and `load_attribution_result` read what was saved, by this function or by the
training monitor (which works on training images and leaves its findings in the run's findings.json).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.diagnostics.findings import Finding
from workbench.core.run_folder import RunFolder

StageProgress = Callable[[str, int, int], None]  # (stage, done, total)

MAPS_FILE = "attribution_maps.npy"
NAMES_FILE = "attribution_maps.txt"
PNG_FILE = "attribution_maps.png"
IMAGES_FILE = "attribution_images.npy"
REPORT_FILE = "attribution_report.json"
SHORTCUT_CODES = ("shortcut-region", "shortcut-border")
PROBES = 256  # validation images of other classes that receive a suspicious region in the attack test


@dataclass
class AttributionResult:
    """What the model looks at, per class: maps, mean images and the shortcut findings."""

    class_names: list[str]  # the classes that have a map, in the order of `maps`
    maps: np.ndarray  # C×H×W float32, each map sums to one
    mean_images: np.ndarray | None = None  # C×H×W×channels float32 in 0–1; None for the monitor's files
    findings: list[Finding] = field(default_factory=list)
    method: str = ""
    split: str = "val"  # "val" (on demand) or "train" (the training monitor)
    skipped: list[str] = field(default_factory=list)  # classes with too few correctly predicted images
    stats: dict[str, dict] = field(default_factory=dict)
    folder: Path | None = None

    def finding_for(self, class_name: str) -> Finding | None:
        return next((f for f in self.findings if f.evidence.get("class") == class_name), None)


def diagnostics_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "diagnostics"


def _stage(progress: StageProgress | None, stage: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)


def attribution_maps_for_run(
    run_dir: str | Path,
    method: str = "auto",
    max_per_class: int = 16,
    progress: StageProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    max_classes: int = 30,
    seed: int | None = None,
) -> AttributionResult:
    """Compute, save and return the per-class mean attribution maps of `run_dir`'s model on validation images.

    `method`: "auto" (occlusion up to 64 px, else Grad-CAM for CNNs, integrated gradients otherwise),
    "occlusion", "gradcam" or "integrated_gradients". Each map averages up to `max_per_class` correctly
    predicted images; with more than `max_classes` classes a seeded subset is shown, to bound the time.
    """
    import torch

    from workbench.core.config import ConfigError
    from workbench.core.data.pipeline import prepare_data
    from workbench.core.data.stats import normalize
    from workbench.core.diagnostics.context import stratified_sample
    from workbench.core.diagnostics.shortcut import shortcut_check
    from workbench.core.evaluation.inference import eval_set_from_data
    from workbench.core.evaluation.run_loading import load_run

    run = load_run(run_dir)
    if run.kind == "bundle":
        raise ConfigError("a model bundle carries no validation images; compute attribution maps on its run folder")
    data = prepare_data(run.config, manifest=RunFolder(run.run_dir).split, class_names=run.class_names, stats=run.stats,
                        progress=_stage(progress, "Reading the validation images"), should_stop=should_stop)
    images = eval_set_from_data(data, "val")  # validation only: the test split stays locked
    if len(images) == 0:
        raise ConfigError(f"run {run.run_dir.name} has no validation images; attribution maps need a validation share "
                          "above 0")
    rng = np.random.default_rng(run.config.training.seed if seed is None else seed)
    labels = np.asarray(images.labels)
    pool = np.arange(len(images))
    classes = np.unique(labels)
    if len(classes) > max_classes:
        pool = pool[np.isin(labels, rng.choice(classes, max_classes, replace=False))]
    # Half as many again as a map needs, as misclassified images are left out of it (and memory stays bounded).
    donors = stratified_sample(labels, max_per_class + (max_per_class + 1) // 2, rng, pool)
    probes = np.sort(rng.choice(len(images), size=min(len(images), PROBES), replace=False))
    x01 = images.load(donors)
    x = normalize(x01, run.stats).to(run.device)
    px = normalize(images.load(probes), run.stats).to(run.device)
    folder = diagnostics_dir(run.run_dir)
    with torch.enable_grad():  # captum needs gradients even where the caller runs under no_grad
        report = shortcut_check(run.model, x, labels[donors], run.class_names, probe_images=px,
                                probe_labels=labels[probes], method=method, max_per_class=max_per_class,
                                evidence_dir=folder, should_stop=should_stop, seed=int(rng.integers(2**31)),
                                progress=_stage(progress, "Computing attributions"))
    # The maps are the view; a shortcut is found in the training images and confirmed on the model, since the
    # validation images (the maps' source) may not carry a mark that only the training images have.
    from workbench.core.diagnostics.shortcut import MAX_TRAIN_PER_CLASS, merge_findings
    from workbench.core.diagnostics.shortcut_probe import shortcut_probe

    train_set = eval_set_from_data(data, "train")
    if len(train_set):
        rows = stratified_sample(np.asarray(train_set.labels), MAX_TRAIN_PER_CLASS, rng, np.arange(len(train_set)))
        tx = normalize(train_set.load(rows), run.stats).to(run.device)
        confirmed = shortcut_probe(run.model, tx, np.asarray(train_set.labels)[rows], px, labels[probes],
                                   run.class_names, evidence_dir=folder, seed=run.config.data.seed)
        report.findings = merge_findings(report, confirmed) + [
            f for f in report.findings if f.severity != "problem" and f.evidence.get("class") not in
            {c.evidence.get("class") for c in confirmed}]  # unconfirmed map observations stay as notes here
    names = list(report.class_maps)
    skipped = [run.class_names[int(c)] for c in np.unique(labels[donors]) if run.class_names[int(c)] not in names]
    if not names:
        raise ValueError("no class has 3 or more correctly predicted validation images, so there is nothing to "
                         "average; train longer or check the data")
    maps = np.stack([report.class_maps[n] for n in names]).astype(np.float32)
    means = np.stack([x01[torch.as_tensor(report.class_rows[n])].mean(0).numpy() for n in names])
    means = np.clip(means.transpose(0, 2, 3, 1), 0, 1).astype(np.float32)
    np.save(folder / IMAGES_FILE, means)
    _write_report(folder, {
        "method": report.method, "split": "val", "classes": names, "skipped": skipped, "stats": report.stats,
        "findings": [f.to_dict() for f in report.findings],
        "images": [images.paths[int(i)] for i in np.union1d(donors, probes)],
        "checkpoint_epoch": run.checkpoint_epoch,
    })
    return AttributionResult(names, maps, means, list(report.findings), report.method, "val", skipped,
                             dict(report.stats), folder)


def _finding_from_dict(raw: dict[str, Any]) -> Finding | None:
    try:
        return Finding(str(raw["code"]), str(raw["severity"]), str(raw.get("title", "")),
                       str(raw.get("explanation", "")), str(raw.get("fix", "")), dict(raw.get("evidence") or {}),
                       str(raw.get("pane", "evaluate")))
    except (KeyError, TypeError, ValueError):
        return None  # a damaged entry must not hide the maps


def _write_report(folder: Path, data: dict[str, Any]) -> None:
    from workbench.core.runs import write_json

    write_json(folder / REPORT_FILE, data)


def load_attribution_maps(run_dir: str | Path) -> tuple[list[str], np.ndarray] | None:
    """(class names, C×H×W maps) saved in the run's diagnostics folder, or None when there are none (or damaged)."""
    folder = diagnostics_dir(run_dir)
    try:
        maps = np.load(folder / MAPS_FILE, allow_pickle=False)
        names = [line for line in (folder / NAMES_FILE).read_text(encoding="utf-8").splitlines() if line]
    except (OSError, ValueError):
        return None
    if maps.ndim != 3 or len(names) != len(maps):
        return None
    return names, maps.astype(np.float32)


def load_attribution_result(run_dir: str | Path) -> AttributionResult | None:
    """The saved maps with what is known about them: mean images, method and findings, when present."""
    from workbench.core.runs import read_json

    loaded = load_attribution_maps(run_dir)
    if loaded is None:
        return None
    names, maps = loaded
    folder = diagnostics_dir(run_dir)
    report = read_json(folder / REPORT_FILE, None)
    if isinstance(report, dict) and report.get("classes") == names:
        raw_findings = report.get("findings") or []
        split, method = str(report.get("split", "val")), str(report.get("method", ""))
        skipped, stats = list(report.get("skipped") or []), dict(report.get("stats") or {})
        means = _load_means(folder / IMAGES_FILE, maps.shape)
    else:  # written by the training monitor: its findings are in the run's findings.json
        stored = read_json(RunFolder(run_dir).findings, None)
        stored = stored.get("findings", []) if isinstance(stored, dict) else stored
        raw_findings = [f for f in stored or [] if isinstance(f, dict) and f.get("code") in SHORTCUT_CODES]
        split, method, skipped, stats, means = "train", "", [], {}, None
    findings = [f for f in (_finding_from_dict(r) for r in raw_findings if isinstance(r, dict)) if f is not None]
    return AttributionResult(names, maps, means, findings, method, split, skipped, stats, folder)


def _load_means(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    try:
        means = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    ok = means.ndim == 4 and means.shape[:3] == tuple(shape)
    return means.astype(np.float32) if ok else None
