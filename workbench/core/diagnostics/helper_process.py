"""Heavy diagnostics in a helper process, so neither the GUI's GIL nor training's cores are taken.

A `HelperJob` runs `function(payload, send, should_stop)` in a spawned child process (as the UMAP helper in
core/projection/ does), at lowered OS priority, with its BLAS, OpenMP and torch threads limited to one
(threadpoolctl). What the function passes to `send` comes back to `on_message` on a reader thread of this
process; its return value arrives as `on_done(result)`. `cancel()` asks the child to stop, then ends it.

Where a child process cannot be started (a frozen app that does not say it calls freeze_support, or
WORKBENCH_DIAGNOSTICS_IN_PROCESS=1), the function runs in a low-priority thread of this process instead.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import pickle
import queue
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

NICENESS = 15  # well below training (0), so the scheduler gives training the cores it wants


def in_process() -> bool:
    """True where helpers must run as threads: asked for, or a frozen app without WORKBENCH_HELPER_PROCESS=1."""
    if os.environ.get("WORKBENCH_DIAGNOSTICS_IN_PROCESS", "") == "1":
        return True
    return bool(getattr(sys, "frozen", False)) and os.environ.get("WORKBENCH_HELPER_PROCESS", "") != "1"


def limit_threads(threads: int = 1) -> None:
    """One thread for OpenMP/BLAS (threadpoolctl) and torch in this process; lowered priority (Linux, macOS)."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[name] = str(threads)
    with contextlib.suppress(AttributeError, OSError):
        os.nice(NICENESS)
    with contextlib.suppress(Exception):
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    with contextlib.suppress(Exception):
        import torch

        torch.set_num_threads(threads)
        with contextlib.suppress(RuntimeError):  # only settable before the first parallel work
            torch.set_num_interop_threads(threads)


def _resolve(target: str) -> Callable[..., Any]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _child_main(messages: Any, inbox: Any, stop: Any, target: str, payload: bytes | None, threads: int,
                warm: tuple[str, ...]) -> None:
    """The helper process: limit itself, import what the job needs, wait for its payload when it comes later
    (a helper started early, so its imports are done before the work is due), run it, report."""
    limit_threads(threads)
    try:
        function = _resolve(target)
        for module in warm:
            with contextlib.suppress(ImportError):
                importlib.import_module(module)
        while payload is None:
            if stop.is_set():
                raise InterruptedError("cancelled before the work arrived")
            with contextlib.suppress(queue.Empty):
                payload, threads = inbox.get(timeout=0.2)
                if threads > 1:
                    limit_threads_to(threads)
        result = function(pickle.loads(payload), lambda message: messages.put(("message", message)), stop.is_set)
        messages.put(("__done__", result))
    except InterruptedError:
        messages.put(("__cancelled__", None))
    except BaseException:  # report, never hang the parent
        messages.put(("__error__", traceback.format_exc()))


def limit_threads_to(threads: int) -> None:
    """Raise the thread limits again (end-of-run work, once training no longer needs the cores)."""
    with contextlib.suppress(Exception):
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    with contextlib.suppress(Exception):
        import torch

        torch.set_num_threads(threads)


class HelperJob:
    """One diagnostic job in a helper process (or a thread where processes are not possible)."""

    def __init__(self, target: str, payload: Any, on_message: Callable[[Any], None], *,
                 on_done: Callable[[Any], None] | None = None, threads: int = 1, name: str = "diagnostics",
                 later: bool = False, warm: tuple[str, ...] = ()) -> None:
        """`later=True` starts the helper without its payload (given by `submit`), so that its start-up and the
        imports of `warm` happen while training still runs."""
        self.target = target
        self.on_message = on_message
        self.on_done = on_done
        self.threads = threads
        self.name = name
        self.error = ""
        self.result: Any = None
        self.cancelled = False
        self._payload = payload
        self._later = later
        self._warm = warm
        self._inbox: Any = None
        self._finished = threading.Event()
        self._process: Any = None
        self._stop: Any = None
        self._reader: threading.Thread | None = None

    # --- control ----------------------------------------------------------------------------------

    def start(self) -> HelperJob:
        payload = None if self._later else pickle.dumps(self._payload, protocol=pickle.HIGHEST_PROTOCOL)
        self._payload = None
        if not in_process():
            try:
                import multiprocessing

                context = multiprocessing.get_context("spawn")
                self._stop = context.Event()
                messages, self._inbox = context.Queue(), context.Queue()
                self._process = context.Process(target=_child_main, name=f"workbench-{self.name}", daemon=True,
                                                args=(messages, self._inbox, self._stop, self.target, payload,
                                                      self.threads, self._warm))
                self._process.start()
                self._reader = threading.Thread(target=self._read, args=(messages,), daemon=True,
                                                name=f"workbench-{self.name}-reader")
                self._reader.start()
                return self
            except (OSError, ValueError, RuntimeError, pickle.PicklingError):
                log.info("no helper process for %s; running it in a thread", self.name, exc_info=True)
                self._process = None
        self._stop = threading.Event()
        self._pending = payload
        if payload is not None:
            self._run_in_thread()
        return self

    def submit(self, payload: Any, threads: int = 1) -> None:
        """The payload of a helper started with `later=True`; `threads` it may use from now on."""
        data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        if self._process is not None:
            self._inbox.put((data, threads))
        else:
            self._pending = data
            self._run_in_thread()

    def _run_in_thread(self) -> None:
        self._reader = threading.Thread(target=self._run_here, args=(self._pending,), daemon=True,
                                        name=f"workbench-{self.name}")
        self._reader.start()

    def cancel(self, wait_s: float = 3.0) -> None:
        """Ask the job to stop; a child that has not stopped after `wait_s` seconds is terminated."""
        self.cancelled = True
        if self._stop is not None:
            self._stop.set()
        process = self._process
        if process is not None:
            process.join(wait_s)
            if process.is_alive():
                process.terminate()
                process.join(3.0)
            if process.is_alive():  # a niced child on a busy machine may not get to run its exit soon
                process.kill()
                process.join(2.0)
        self._finished.wait(wait_s if process is None else 2.0)
        self._finished.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the job to end; True when it has."""
        return self._finished.wait(timeout)

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    @property
    def uses_process(self) -> bool:
        return self._process is not None

    # --- reporting --------------------------------------------------------------------------------

    def _deliver(self, kind: Any, value: Any) -> bool:
        """Hand one message on; True when it ends the job."""
        if kind == "__done__":
            self.result = value
            if self.on_done is not None and not self.cancelled:
                self.on_done(value)
            return True
        if kind == "__error__":
            self.error = str(value)
            log.warning("%s failed in its helper: %s", self.name, value)
            return True
        if kind == "__cancelled__":
            return True
        if not self.cancelled:
            self.on_message(value)
        return False

    def _read(self, messages: Any) -> None:
        try:
            while not self._finished.is_set():
                try:
                    kind, value = messages.get(timeout=0.2)
                except queue.Empty:
                    if self._process is not None and not self._process.is_alive():
                        with contextlib.suppress(queue.Empty):
                            kind, value = messages.get(timeout=0.5)  # the last words of a child that exited
                            if self._deliver(kind, value):
                                break
                            continue
                        if not self.cancelled and not self.error:
                            self.error = f"the helper process ended unexpectedly (exit code {self._process.exitcode})"
                            log.warning("%s: %s", self.name, self.error)
                        break
                    continue
                if self._deliver(kind, value):
                    break
        except Exception:  # a failing receiver must not leave waiters hanging
            log.warning("%s: reading its results failed", self.name, exc_info=True)
        finally:
            self._finished.set()

    def _run_here(self, payload: bytes) -> None:
        from workbench.core.diagnostics.background import lower_thread_priority

        lower_thread_priority(NICENESS)
        try:
            result = _resolve(self.target)(pickle.loads(payload), lambda m: self._deliver("message", m),
                                           self._stop.is_set)
            self._deliver("__done__", result)
        except InterruptedError:
            pass
        except Exception:
            self._deliver("__error__", traceback.format_exc())
        finally:
            self._finished.set()
