"""A background thread that projects feature vectors and emits ProjectionReady events, never blocking training.

Jobs go into a one-slot mailbox: a newer job replaces one that has not started, so a slow projection
never builds a queue. A running job finishes unless a final job (the end of the run) arrives, which
takes over at once. Partial t-SNE layouts are emitted at most every `partial_interval_s` seconds.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from workbench.core.diagnostics.background import lower_thread_priority
from workbench.core.events import EngineEvent, ProjectionReady
from workbench.core.projection.methods import project
from workbench.core.projection.scores import separability_scores

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


def _points(embedding: np.ndarray) -> tuple[tuple[float, float], ...]:
    return tuple((float(a), float(b)) for a, b in np.round(embedding, 4).tolist())


def _event(job: ProjectionJob, method: str, embedding: np.ndarray, labels: tuple[int, ...], partial: bool,
           scores: dict[str, float]) -> ProjectionReady:
    return ProjectionReady(job.epoch, method, _points(embedding), labels, partial, scores, job.indices or ())


class ProjectionWorker:
    def __init__(self, emit: Callable[[EngineEvent], None], method: str = "tsne", *, seed: int = 0,
                 partial_interval_s: float = 0.5, on_result: ResultHook | None = None) -> None:
        self.emit = emit
        self.method = method
        self.seed = seed
        self.partial_interval_s = partial_interval_s
        self.on_result = on_result
        self._pending: ProjectionJob | None = None
        self._cond = threading.Condition()
        self._closing = False
        self._abort = False
        self._busy = False
        self._previous: np.ndarray | None = None  # last layout, the start of the next one
        self.completed: list[int] = []  # epochs whose final layout was emitted
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
        while True:
            job = self._next()
            if job is None:
                return
            try:
                self._project(job)
            except InterruptedError:
                pass
            except Exception:  # a failed projection must not end the worker
                log.warning("projection of epoch %d failed", job.epoch, exc_info=True)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _project(self, job: ProjectionJob) -> None:
        labels = tuple(int(v) for v in job.labels)
        scores = separability_scores(job.features, job.labels, seed=self.seed)
        if self._should_stop(job):
            raise InterruptedError
        last_sent = [0.0]

        def partial(embedding: np.ndarray, _iteration: int) -> None:
            now = time.monotonic()
            if now - last_sent[0] >= self.partial_interval_s and not self._should_stop(job):
                last_sent[0] = now
                self.emit(_event(job, self.method, embedding, labels, True, scores))

        init = self._previous if self._previous is not None and len(self._previous) == len(labels) else None
        embedding = project(job.features, self.method, seed=self.seed, init=init, on_partial=partial,
                            should_stop=lambda: self._should_stop(job))
        if self._should_stop(job):  # UMAP cannot be interrupted mid-fit; never emit after the run was closed
            raise InterruptedError
        self._previous = embedding
        self.emit(_event(job, self.method, embedding, labels, False, scores))
        self.completed.append(job.epoch)
        if self.on_result is not None:
            self.on_result(job, embedding, scores)
