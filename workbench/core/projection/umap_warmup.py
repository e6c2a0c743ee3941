"""UMAP in a helper process, warmed up early, so that neither its start-up nor its fits slow training.

Importing umap and compiling its numba code takes 10–30 s the first time, and numba code holds Python's
GIL while it runs, so a UMAP fit in a thread of the training process stalls the training loop however low
its priority. UMAP therefore runs in one helper process (spawned, niced, one numba thread). `warm_up_umap()`
starts that process from a daemon thread and fits a tiny UMAP in it; the GUI may call it at start-up, and
the projection monitor calls it when a run that projects with UMAP begins while projections run in threads
(WORKBENCH_DIAGNOSTICS_IN_PROCESS=1); otherwise each projection runs in a helper process of its own
(projection/job.py), which fits UMAP itself (`fitting_here`). Where a helper process cannot be started (or
WORKBENCH_UMAP_IN_PROCESS=1, or in a frozen app unless WORKBENCH_UMAP_PROCESS=1), UMAP runs in the calling
thread instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import numpy as np

_lock = threading.Lock()
_thread: threading.Thread | None = None
_pool: ProcessPoolExecutor | None = None
_done = threading.Event()
_error: list[BaseException] = []
_here = threading.local()  # set by `fitting_here()`: this thread fits UMAP itself (it is a helper process's)


# --- in the helper process --------------------------------------------------------------------------


def _child_init() -> None:
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before numba is imported: one core at most
    with contextlib.suppress(AttributeError, OSError):
        os.nice(10)


def fit_umap_here(x: np.ndarray, n_neighbors: int, seed: int, init: np.ndarray | str) -> np.ndarray:
    """A plain UMAP fit in this process (the helper's task, and the in-process fallback)."""
    import umap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "n_jobs overridden by random_state" and numba chatter
        reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=0.1, random_state=seed, init=init,
                            n_jobs=1)
        return np.asarray(reducer.fit_transform(x), dtype=np.float64)


def _tiny_fit() -> bool:
    fit_umap_here(np.random.default_rng(0).random((64, 8)).astype(np.float32), 5, 0, "spectral")
    return True


# --- in the training process ------------------------------------------------------------------------


@contextlib.contextmanager
def fitting_here() -> Iterator[None]:
    """UMAP fits in the calling thread while this lasts: the projection's helper process is already the helper."""
    previous = getattr(_here, "on", False)
    _here.on = True
    try:
        yield
    finally:
        _here.on = previous


def _in_process() -> bool:
    """True where UMAP must run in this process: asked for, inside `fitting_here()`, or a frozen app (PyInstaller)
    that has not said it calls multiprocessing.freeze_support(), without which a spawned helper would start a
    second app."""
    if os.environ.get("WORKBENCH_UMAP_IN_PROCESS", "") == "1" or getattr(_here, "on", False):
        return True
    return bool(getattr(sys, "frozen", False)) and os.environ.get("WORKBENCH_UMAP_PROCESS", "") != "1"


def _get_pool() -> ProcessPoolExecutor | None:
    global _pool
    with _lock:
        if _pool is None and not _in_process():
            import multiprocessing

            try:
                _pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_child_init)
            except (OSError, ValueError, NotImplementedError):
                return None
        return _pool


def _warm() -> None:
    from workbench.core.diagnostics.background import lower_thread_priority

    lower_thread_priority()
    try:
        pool = _get_pool()
        if pool is None:
            _tiny_fit()
        else:
            try:
                pool.submit(_tiny_fit).result()
            except Exception:  # the helper process could not run: fall back to this process
                os.environ["WORKBENCH_UMAP_IN_PROCESS"] = "1"
                _tiny_fit()
    except BaseException as error:  # the real fit will report the problem; warm-up stays silent
        _error.append(error)
    finally:
        _done.set()


def warm_up_umap() -> threading.Thread:
    """Start (once) the helper process and its tiny UMAP fit, from a daemon thread; returns that thread."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_warm, name="workbench-umap-warmup", daemon=True)
            _thread.start()
        return _thread


def wait_for_umap(timeout: float | None = None) -> bool:
    """Start the warm-up if needed and wait for it; True when UMAP is ready."""
    warm_up_umap()
    return _done.wait(timeout) and not _error


def umap_ready() -> bool:
    return _done.is_set() and not _error


def fit_umap(x: np.ndarray, n_neighbors: int, seed: int, init: np.ndarray | str,
             should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """A UMAP fit in the helper process, polling `should_stop` (InterruptedError) while it runs."""
    if getattr(_here, "on", False):
        return fit_umap_here(x, n_neighbors, seed, init)
    wait_for_umap()
    pool = None if _in_process() else _get_pool()
    if pool is None:
        return fit_umap_here(x, n_neighbors, seed, init)
    future: Future = pool.submit(fit_umap_here, x, n_neighbors, seed, init)
    while True:
        try:
            return future.result(timeout=0.2)
        except FutureTimeout:
            if should_stop is not None and should_stop():
                future.cancel()  # a fit that already started finishes in the helper; its result is dropped
                raise InterruptedError("projection cancelled") from None
            time.sleep(0)


def shutdown_umap() -> None:
    """Stop the helper process (it is also stopped when Python exits)."""
    global _pool, _thread
    with _lock:
        pool, _pool = _pool, None
        _thread = None
        _done.clear()
        _error.clear()
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)
