"""Projects feature vectors in helper processes and emits ProjectionReady events, never blocking training or the window.

Jobs go into a one-slot mailbox: a newer job replaces one that has not started, so a slow projection
never builds a queue. A running job finishes unless a final job (the end of the run) arrives, which
takes over at once. Partial t-SNE layouts are emitted at most every `partial_interval_s` seconds.

The fit itself (scores, then t-SNE, UMAP or PCA) runs in a helper process (`HelperJob`, target
`projection.job:project_job`): numpy, scikit-learn and openTSNE hold the GIL for long stretches, which in a thread
of this process would freeze the window and slow the training loop. A thread of this process only hands jobs
over and passes results on. Where cores or a GPU are to spare (`prestart`), the next job's helper is started
ahead (it imports its libraries while it waits), so a job never waits for a process to start. The final
projection, after training, follows HelperJob's `after_training` rule: a process beside a window, a thread
headless. Where no helper process can start, HelperJob runs the fit in a low-priority thread instead.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.core.diagnostics.background import lower_thread_priority
from workbench.core.diagnostics.helper_process import HelperJob
from workbench.core.events import EngineEvent, ProjectionReady
from workbench.core.projection.job import METHOD_MODULES, WARM

log = logging.getLogger(__name__)


@dataclass
class ProjectionJob:
    epoch: int
    features: np.ndarray
    labels: np.ndarray
    final: bool = False
    accuracy: float = math.nan  # validation accuracy at this epoch, for the Fig. 3 check
    indices: tuple[int, ...] | None = None  # dataset rows (split.csv order) of the points, when known


ResultHook = Callable[[ProjectionJob, np.ndarray, dict[str, float]], None]


TARGET = "workbench.core.projection.job:project_job"
CANCEL_WAIT_S = 0.5  # how long a cancelled helper may take to stop before it is terminated


def _event(job: ProjectionJob, method: str, points: tuple[tuple[float, float], ...], labels: tuple[int, ...],
           partial: bool, scores: dict[str, float]) -> ProjectionReady:
    return ProjectionReady(job.epoch, method, points, labels, partial, scores, job.indices or ())


class ProjectionWorker:
    def __init__(self, emit: Callable[[EngineEvent], None], method: str = "tsne", *, seed: int = 0,
                 partial_interval_s: float = 0.5, on_result: ResultHook | None = None, prestart: bool = True) -> None:
        """`prestart=False`: start each job's helper when the job comes, not ahead (training needs every core)."""
        self.emit = emit
        self.method = method
        self.seed = seed
        self.partial_interval_s = partial_interval_s
        self.prestart = prestart
        self.on_result = on_result
        self._pending: ProjectionJob | None = None
        self._cond = threading.Condition()
        self._closing = False
        self._abort = False
        self._busy = False
        self._previous: np.ndarray | None = None  # last layout, the start of the next one
        self.completed: list[int] = []  # epochs whose final layout was emitted
        self.helper_pids: list[int] = []  # the process that took each job (another one's unless fitting in threads)
        self._thread = threading.Thread(target=self._run, name="workbench-projection", daemon=True)
        self._thread.start()

    def submit(self, job: ProjectionJob) -> None:
        with self._cond:
            if self._closing:
                return
            self._pending = job
            self._cond.notify_all()

    def close(self, wait_s: float = 0.0) -> None:
        """Let queued work finish for up to `wait_s` seconds, then abandon whatever is left."""
        deadline = time.monotonic() + wait_s
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            while (self._pending is not None or self._busy) and time.monotonic() < deadline:
                self._cond.wait(max(0.0, min(0.2, deadline - time.monotonic())))
            self._abort = True
            self._pending = None
            self._cond.notify_all()
        self._thread.join(5.0)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def busy(self) -> bool:
        """True while a job waits or runs."""
        with self._cond:
            return self._pending is not None or self._busy

    def _next(self) -> ProjectionJob | None:
        with self._cond:
            while self._pending is None and not self._closing:
                self._cond.wait()
            job, self._pending = self._pending, None
            self._busy = job is not None
            return job

    def _should_stop(self, job: ProjectionJob) -> bool:
        with self._cond:
            return self._abort or (not job.final and self._pending is not None and self._pending.final)

    def _run(self) -> None:
        lower_thread_priority()
        spare: _Helper | None = _Helper(self.method) if self.prestart else None
        try:
            while True:
                job = self._next()
                if job is None:
                    return
                helper = spare or _Helper(self.method, after_training=job.final)
                # The next job's, starting while this one runs (none after the final job).
                spare = _Helper(self.method) if self.prestart and not job.final else None
                try:
                    self._project(job, helper)
                except InterruptedError:
                    pass
                except Exception:  # a failed projection must not end the worker
                    log.warning("projection of epoch %d failed", job.epoch, exc_info=True)
                finally:
                    if not helper.job.done:
                        helper.job.cancel(CANCEL_WAIT_S)
                    with self._cond:
                        self._busy = False
                        self._cond.notify_all()
        finally:
            if spare is not None:
                spare.job.cancel(0.0)  # it never got a job: end it at once

    def _project(self, job: ProjectionJob, helper: _Helper) -> None:
        labels = tuple(int(v) for v in job.labels)
        scores: dict[str, float] = {}

        def on_message(message: Any) -> None:  # on the helper's reader thread
            if message[0] == "started":
                self.helper_pids.append(int(message[1]))
            elif message[0] == "scores":
                scores.update(message[1])
            elif message[0] == "partial" and not self._should_stop(job):
                self.emit(_event(job, self.method, message[1], labels, True, dict(scores)))

        helper.handler = on_message
        init = self._previous if self._previous is not None and len(self._previous) == len(labels) else None
        helper.job.submit({"features": job.features, "labels": job.labels, "method": self.method, "seed": self.seed,
                           "init": init, "partial_interval_s": self.partial_interval_s})
        while not helper.job.join(0.1):
            if self._should_stop(job):
                helper.job.cancel(CANCEL_WAIT_S)
                raise InterruptedError
        result = helper.job.result
        if helper.job.error:
            raise RuntimeError(f"the projection's helper failed: {helper.job.error}")
        if helper.job.cancelled or not isinstance(result, dict) or self._should_stop(job):
            raise InterruptedError  # never emit after the run was closed
        self._previous = result["embedding"]
        self.emit(_event(job, self.method, result["points"], labels, False, result["scores"]))
        self.completed.append(job.epoch)
        if self.on_result is not None:
            self.on_result(job, result["embedding"], result["scores"])


class _Helper:
    """A helper started before its job is handed over, importing the method's libraries meanwhile; its messages go
    to `handler`, set when the job is handed over. `after_training`: the final projection, which headless runs in a
    thread (HelperJob's rule: no window's GIL to keep free, and no child's start-up to pay once training is over)."""

    def __init__(self, method: str, after_training: bool = False) -> None:
        self.handler: Callable[[Any], None] = lambda _message: None
        self.job = HelperJob(TARGET, None, lambda message: self.handler(message), name="projection", later=True,
                             warm=(*WARM, *METHOD_MODULES.get(method, ())), after_training=after_training).start()
