"""Evaluating a finished run on one of its splits. The test split is locked: each use is recorded.

`evaluate_run` is the single entry point for the evaluation page and `workbench eval`: metrics with
bootstrap intervals, ROC/PR curves and calibration, and on request test-time augmentation, the
robustness check and the misclassified gallery, all in one recorded use of the test set.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.config import ConfigError, ProjectConfig
from workbench.core.data.pipeline import PreparedData, prepare_data
from workbench.core.evaluation import storage
from workbench.core.evaluation.baselines import baselines
from workbench.core.evaluation.inference import EvalSet, eval_set_from_data, predict_set
from workbench.core.evaluation.loaded_run import LoadedRun
from workbench.core.evaluation.metrics import full_metrics, headline
from workbench.core.evaluation.run_loading import load_run
from workbench.core.run_folder import RunFolder
from workbench.core.runs import write_json
from workbench.core.training.loop import BatchSource, predict

Progress = Callable[[int, int], None]


def run_predictions(run: LoadedRun, data: PreparedData, split: str) -> dict[str, np.ndarray]:
    source = BatchSource(data=data, indices=data.indices(split), batch_size=run.config.training.batch_size,
                         device=run.device, stats=run.stats)
    return predict(run.model, source)


def load_split(run: LoadedRun, split: str, progress: Progress | None = None) -> EvalSet:
    """The images of one split of the run, decoded with the run's preprocessing and stored split."""
    data = prepare_data(run.config, manifest=RunFolder(run.run_dir).split, class_names=run.class_names,
                        stats=run.stats, progress=progress)
    return eval_set_from_data(data, split)


def _setting(config: ProjectConfig, name: str, default: Any) -> Any:
    """An evaluation setting from the config, or its default while the config has no such field."""
    return getattr(config.evaluation, name, default)


class _ExtraCancelled(Exception):
    """Raised from a progress callback to abandon an optional part of an evaluation."""


class _Extras:
    """Runs the optional parts of an evaluation until a stop is requested; remembers what was skipped."""

    def __init__(self, should_stop: Callable[[], bool] | None) -> None:
        self.should_stop = should_stop
        self.skipped: list[str] = []

    def stopped(self) -> bool:
        return self.should_stop is not None and self.should_stop()

    def go(self, name: str) -> bool:
        if self.stopped():
            self.skipped.append(name)
            return False
        return True

    @contextlib.contextmanager
    def guard(self, name: str) -> Iterator[Callable[[int, int], None]]:
        """A progress callback that aborts the block when a stop is requested; the block is then skipped."""
        def check(_done: int, _total: int) -> None:
            if self.stopped():
                raise _ExtraCancelled

        try:
            yield check
        except _ExtraCancelled:
            self.skipped.append(name)


def evaluate_run(
    run_dir: str | Path,
    split: str = "test",
    *,
    data: PreparedData | None = None,
    progress: Progress | None = None,
    tta: Sequence[str] | None = None,
    tta_rule: str | None = None,
    robustness: bool | None = None,
    gallery: int | None = None,
    bootstrap_samples: int | None = None,
    should_stop: Callable[[], bool] | None = None,
    allow_partial: bool = False,
) -> dict[str, Any]:
    """Metrics of the run's best model on `split`; using the test split is recorded in run.json and counted.

    `tta` (augmentation names) adds a plain-versus-TTA comparison, `robustness` the perturbation table and
    plot, `gallery` the number of worst errors to show with saliency overlays. Unset options come from the
    run's config (evaluation section), else: no TTA, no robustness check, a gallery of 12.

    `should_stop` cancels cooperatively. Before the images are scored it raises InterruptedError and nothing
    is recorded. Once they are scored the metrics exist, so the use is recorded; the extras still to come
    are skipped and listed under "skipped".

    The test split is evaluated only when every test file is present and unchanged since the run was made
    (content hashes); otherwise a ConfigError says which files, unless `allow_partial`, which evaluates
    what is left, marks the result partial and records it as a different test set.
    """
    run = load_run(run_dir)
    if run.kind == "bundle":
        raise ConfigError("a model bundle carries no data splits; evaluate it on a folder of labelled images instead "
                          "(external validation)")
    cfg = run.config
    tta = list(tta) if tta is not None else list(_setting(cfg, "tta_augmentations", []))
    tta_rule = tta_rule or _setting(cfg, "tta_rule", "mean")
    robustness = bool(_setting(cfg, "robustness", False)) if robustness is None else robustness
    gallery = int(_setting(cfg, "gallery_size", 12)) if gallery is None else gallery
    samples = cfg.evaluation.bootstrap_samples if bootstrap_samples is None else bootstrap_samples
    test_check = None
    if split == "test":
        from workbench.core.evaluation.test_set import verify_test_files

        test_check = verify_test_files(run.run_dir)
        if not test_check.complete and test_check.total and not allow_partial:
            raise ConfigError(test_check.message(run.run_dir.name))
    if data is None:
        try:
            data = prepare_data(cfg, manifest=RunFolder(run.run_dir).split, class_names=run.class_names,
                                stats=run.stats, progress=progress, should_stop=should_stop)
        except InterruptedError:
            data = None
    if data is None or (should_stop is not None and should_stop()):
        raise InterruptedError(f"evaluation cancelled before the {split} images were scored; nothing was recorded")
    images = eval_set_from_data(data, split)
    if len(images) == 0:
        raise ConfigError(f"the {split} split of run {run.run_dir.name} is empty; set a {split} share above 0")
    out = predict_set(run, images)
    metrics = full_metrics(images.labels, out["probs"], run.class_names, bootstrap_samples=samples,
                           seed=cfg.training.seed, calibration_bins=int(_setting(cfg, "calibration_bins", 10)))
    status = RunFolder(run.run_dir).read_status()
    result: dict[str, Any] = {
        **metrics,
        "split": split,
        "images": len(images),
        "class_names": run.class_names,
        "checkpoint_epoch": run.checkpoint_epoch,
        "best_val_metrics": status.get("best_metrics", {}),
        "evaluated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "bootstrap_samples": samples,
        "baselines": baselines(data.labels[data.indices("train")], images.labels, run.class_names),
    }
    partial = test_check.as_dict() if test_check is not None and not test_check.complete else None
    if partial:
        result["partial_test_set"] = partial
    storage.save_predictions(run.run_dir, split, out["probs"], images.labels, images.rows)
    extras = _Extras(should_stop)
    if tta and extras.go("test-time augmentation"):
        from workbench.core.evaluation.tta_eval import compare_tta

        with extras.guard("test-time augmentation") as check:
            comparison = compare_tta(run, images, tta, tta_rule, progress=check)
            comparison.pop("probs")
            write_json(storage.tta_path(run.run_dir, split), comparison)
            result["tta"] = comparison
    if robustness and extras.go("robustness check"):
        from workbench.core.evaluation.robustness import evaluate_robustness, plot_robustness

        with extras.guard("robustness check") as check:
            table = evaluate_robustness(run, images, seed=cfg.training.seed, clean_pred=out["pred"], progress=check)
            plot_path = storage.robustness_path(run.run_dir, split).with_suffix(".png")
            plot_robustness(table, plot_path)
            table["plot"] = plot_path.name
            write_json(storage.robustness_path(run.run_dir, split), table)
            result["robustness"] = {"summary": table["summary"], "flagged": table["flagged"]}
    if gallery > 0 and extras.go("misclassified gallery"):
        from workbench.core.evaluation.gallery import misclassified_gallery, save_gallery

        items = misclassified_gallery(run, images, out["probs"], gallery)
        save_gallery(items, storage.gallery_dir(run.run_dir, split))
        result["gallery"] = [item.to_dict() for item in items]
    if extras.skipped:
        result["skipped"] = extras.skipped
    if split == "test":
        from workbench.core.evaluation.test_lock import record_test_use

        settings = {"tta": tta, "tta_rule": tta_rule if tta else "", "robustness": robustness, "gallery": gallery}
        use = record_test_use(run.run_dir, cfg, run.checkpoint_path or Path(), what="evaluation",
                              test_key=test_check.key if test_check is not None else "", partial=partial,
                              summary={k: v for k, v in headline(metrics).items() if k in ("accuracy", "balanced_accuracy")},
                              settings=settings, checkpoint_epoch=run.checkpoint_epoch)
        result.update(test_uses=use.uses, project_test_uses=use.project_uses, settings_changed=use.changed,
                      warning=use.warning)
    storage.save_metrics(run.run_dir, split, result)
    return result
