"""The live projection of validation features during training: every N epochs, and once at the end.

Features are extracted on the training thread (the model is busy otherwise), on a fixed random subset
of the validation images so that successive layouts show the same points; the projection itself runs
in a helper process, handed over by the background worker (worker.py). The final projection is made
after the run was reported finished (in `after_run`, with its own progress line), waited for up to a
limit, and the Fig. 3 check is made on it. Headless (no window shares the process), there are no live layouts;
the final features are judged at once and saved, and their t-SNE or UMAP layout is drawn when a report shows it
(deferred.py).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.core.diagnostics.context import stratified_sample
from workbench.core.diagnostics.helper_process import in_process, spare_cores
from workbench.core.diagnostics.monitor_base import GuardedMonitor
from workbench.core.diagnostics.settings import DiagnosticsSettings, settings_from_config
from workbench.core.events import BackgroundProgress
from workbench.core.host import interactive_host
from workbench.core.projection.methods import PROJECTIONS
from workbench.core.projection.scores import structure_verdict
from workbench.core.projection.worker import ProjectionJob, ProjectionWorker
from workbench.core.training.monitors import Monitor, MonitorContext

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig

FINISHED = ("completed", "early_stopped")


class ProjectionMonitor(GuardedMonitor):
    def __init__(self, every: int = 5, method: str = "tsne", max_points: int = 2000, wait_s: float = 120.0,
                 seed: int = 0) -> None:
        if method not in PROJECTIONS:
            raise ValueError(f"unknown projection {method!r}; choose one of {sorted(PROJECTIONS)}")
        self.every = every
        self.method = method
        self.max_points = max_points
        self.wait_s = wait_s
        self.seed = seed
        self.history: list[dict[str, float]] = []
        self.submitted: list[int] = []  # epochs whose features were handed to the worker (it may skip stale ones)
        self.context: MonitorContext | None = None
        self.worker: ProjectionWorker | None = None
        self._last_epoch = 0
        self._last_accuracy = math.nan
        self._last_validation: dict[str, Any] | None = None
        self._raised = False

    @classmethod
    def from_settings(cls, settings: DiagnosticsSettings, seed: int = 0) -> ProjectionMonitor:
        return cls(settings.projection_every, settings.projection_method, settings.projection_max_points,
                   settings.projection_wait_s, seed)

    def setup(self, context: MonitorContext) -> None:
        self.context = context
        self.history, self.submitted, self._raised = [], [], False
        data = context.data
        has_val = len(context.val_source.indices) > 0
        base = context.val_source if has_val else context.train_source
        pool = np.asarray(base.indices)
        per_class = max(1, self.max_points // max(1, len(data.class_names)))
        rows = stratified_sample(data.labels, per_class, np.random.default_rng(self.seed), pool)
        self._source = dataclasses.replace(base, indices=rows, transform=None, shard=None)
        if self.method == "umap" and in_process():  # else the projection's helper process fits UMAP itself
            from workbench.core.projection.umap_warmup import warm_up_umap

            warm_up_umap()
        # The helper starts ahead only where it takes no core training wants (the rule of the other helpers).
        prestart = interactive_host() and not in_process() and (context.device.type != "cpu" or spare_cores())
        self.worker = ProjectionWorker(context.emit, self.method, seed=self.seed, on_result=self._on_result,
                                       prestart=prestart)

    def _submit(self, epoch: int, final: bool) -> None:

        assert self.context is not None and self.worker is not None
        if len(self._source.indices) < 3:
            return
        out, rows = self._features(final)
        self.submitted.append(epoch)
        self.worker.submit(ProjectionJob(epoch, out["features"], out["labels"], final, self._last_accuracy, rows))

    def on_epoch_end(self, epoch: int, record: dict[str, Any]) -> None:
        assert self.context is not None
        self._last_epoch = epoch
        validation = record.get("validation") or {}
        self._last_validation = validation if "features" in validation else None
        self._last_accuracy = float(record.get("metrics", {}).get("accuracy", math.nan))
        last = epoch >= self.context.config.training.epochs  # the end-of-run projection covers it
        # Live layouts are for a window to show; headless, nobody watches one form, and its fit would take cores
        # from training. The run's final features are judged all the same (after_run).
        if self.every > 0 and epoch % self.every == 0 and not last and interactive_host():
            self._submit(epoch, final=False)

    def on_run_end(self, status: str) -> None:
        if self.worker is not None and (status not in FINISHED or self._last_epoch == 0 or self.broken):
            self.worker.close(0.0)  # nothing more to project: the worker thread ends here

    def after_run(self, status: str, should_stop: Callable[[], bool]) -> None:
        """The final projection, after the run was reported finished (stopped early by `should_stop`)."""
        if self.worker is None or not self.worker.alive:
            return
        emit = self.context.emit if self.context is not None else None
        try:
            if emit is not None:
                emit(BackgroundProgress("projection", "Projecting the features", 0, 1, "layouts"))
            if not interactive_host() and not PROJECTIONS[self.method].instant and self.context.run_dir:
                self._judge_and_defer()
                return
            self._submit(self._last_epoch, final=True)
            deadline = time.monotonic() + self.wait_s
            while self.worker.busy and time.monotonic() < deadline and not should_stop():
                time.sleep(0.1)
        finally:
            self.worker.close(0.0 if should_stop() else 1.0)  # the worker thread ends here, whatever happened
            if emit is not None:
                emit(BackgroundProgress("projection", "Projecting the features", 1, 1, "layouts", True))

    def _judge_and_defer(self) -> None:
        """Headless: the Fig. 3 verdict on the final features now; their layout when a report draws it."""
        from workbench.core.projection.deferred import save_final_features
        from workbench.core.projection.scores import separability_scores

        assert self.context is not None
        if len(self._source.indices) < 3:
            return
        out, rows = self._features(final=True)
        scores = separability_scores(out["features"], out["labels"], seed=self.seed)
        job = ProjectionJob(self._last_epoch, out["features"], out["labels"], True, self._last_accuracy, rows)
        self._on_result(job, np.zeros((0, 2)), scores)
        save_final_features(self.context.run_dir, epoch=self._last_epoch, method=self.method, seed=self.seed,
                            features=out["features"], labels=out["labels"], rows=rows, scores=scores)

    def _features(self, final: bool) -> tuple[dict[str, np.ndarray], tuple[int, ...]]:
        """Features and labels of the projected rows, and the rows: for the final layout from the last epoch's
        validation pass where it kept them, else from a pass of the model over those rows."""
        from workbench.core.training.loop import predict

        assert self.context is not None
        rows = tuple(int(i) for i in self._source.indices)  # predict keeps this order
        kept = self._last_validation if final else None
        position = {int(row): i for i, row in enumerate(kept["rows"])} if kept is not None else {}
        if kept is not None and all(row in position for row in rows):
            take = np.asarray([position[row] for row in rows])
            return {"features": kept["features"][take], "labels": kept["labels"][take]}, rows
        return predict(self.context.model, self._source, with_features=True), rows

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.close(0.0)

    def _on_result(self, job: ProjectionJob, embedding: np.ndarray, scores: dict[str, float]) -> None:
        self.history.append({"epoch": job.epoch, "accuracy": job.accuracy, **scores})
        if not job.final or self._raised or self.context is None:
            return
        finding = structure_verdict(scores, job.accuracy, self.history)  # a pass, with its numbers, or a warning
        if finding is not None:
            self._raised = True
            self.context.emit(finding.to_event())


def projection_monitors(config: ProjectConfig) -> list[Monitor]:
    settings = settings_from_config(config)
    if not settings.enabled or settings.projection_method not in PROJECTIONS:
        return []
    return [ProjectionMonitor.from_settings(settings, seed=config.training.seed)]
