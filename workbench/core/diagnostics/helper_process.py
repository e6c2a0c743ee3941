"""Heavy diagnostics in a helper process, so neither the GUI's GIL nor training's cores are taken.

A `HelperJob` runs `function(payload, send, should_stop)` in a child Python process (core/helper_child.py), at
lowered OS priority from its first line, with its BLAS, OpenMP and torch threads limited to one
(threadpoolctl). What the function passes to `send` comes back to `on_message` on a reader thread of this
process; its return value arrives as `on_done(result)`. `cancel()` asks the child to stop, then ends it.

Where a child process cannot be started (a frozen app that does not say it calls freeze_support, or
WORKBENCH_DIAGNOSTICS_IN_PROCESS=1), the function runs in a low-priority thread of this process instead.

A job made with `after_training=True` (end-of-run work) needs a process only where an interactive window
shares this process (core/host.py, which the GUI's runner sets): headless, once training is
over, neither a GIL nor cores are left to protect, so it runs in a thread and saves a child's start-up
(a fresh interpreter importing torch: 2-4 s of CPU).
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
from pathlib import Path
from typing import Any

from workbench.core.helper_child import THREAD_VARIABLES
from workbench.core.host import interactive_host

log = logging.getLogger(__name__)

NICENESS = 15  # well below training (0), so the scheduler gives training the cores it wants
# The child's first line lowers its priority, before torch or scikit-learn are imported.
# And SCHED_IDLE where there is one (Linux): the child then runs only on a core nothing else wants and yields
# at once when a training thread wakes. A merely niced child still holds a core for whole time slices, and
# training's OpenMP threads, which meet at a barrier after every operation, all wait for the one that lost
# its core. (Not for the in-thread fallback: a thread that holds the GIL must not be the last to run.)
_CHILD = (f"import os; hasattr(os, 'nice') and os.nice({NICENESS}); "
          "hasattr(os, 'SCHED_IDLE') and os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0)); "
          "from workbench.core.helper_child import main; main()")


class _Child:
    """A helper process started with subprocess: the parts of multiprocessing.Process a HelperJob uses."""

    def __init__(self, name: str, header: dict[str, Any], threads: int) -> None:
        import subprocess

        import workbench

        env = dict(os.environ, **{v: str(threads) for v in THREAD_VARIABLES})
        package_root = str(Path(workbench.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH", "")]))
        flags = getattr(subprocess, "BELOW_NORMAL_PRIORITY_CLASS", 0)  # Windows; elsewhere the child nices itself
        self.name = name
        self.popen = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=None if os.environ.get(
                                          "WORKBENCH_HELPER_STDERR") else subprocess.DEVNULL,
                                      env=env, creationflags=flags)
        self.messages: queue.Queue = queue.Queue()
        self._outbox: queue.Queue = queue.Queue()
        self.send(header)
        threading.Thread(target=self._pump, daemon=True, name=f"workbench-{name}-pipe").start()
        threading.Thread(target=self._write, daemon=True, name=f"workbench-{name}-send").start()

    def send(self, frame: Any) -> None:
        """Queue a frame for the child; a writer thread sends it, so the caller (training) never waits on a pipe."""
        self._outbox.put(frame)

    def _write(self) -> None:
        from workbench.core.helper_child import write_frame

        while True:
            frame = self._outbox.get()
            try:
                assert self.popen.stdin is not None
                write_frame(self.popen.stdin, frame)
            except (OSError, ValueError):  # a child that has ended reads nothing more
                return

    def _pump(self) -> None:
        from workbench.core.helper_child import read_frame

        assert self.popen.stdout is not None
        while True:
            try:
                self.messages.put(read_frame(self.popen.stdout))
            except (EOFError, OSError, ValueError, pickle.UnpicklingError):
                return

    def is_alive(self) -> bool:
        return self.popen.poll() is None

    def join(self, timeout: float | None = None) -> None:
        import subprocess

        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)

    def terminate(self) -> None:
        with contextlib.suppress(OSError):
            self.popen.terminate()

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.popen.kill()

    @property
    def exitcode(self) -> int | None:
        return self.popen.poll()


class _StopSignal:
    def __init__(self, child: _Child) -> None:
        self.child = child
        self._set = False

    def set(self) -> None:
        if not self._set:
            self._set = True
            self.child.send(("stop",))

    def is_set(self) -> bool:
        return self._set


def spare_cores() -> bool:
    """True when a helper can start beside CPU training without taking its cores: more cores than torch uses."""
    import torch

    return (os.cpu_count() or 1) > torch.get_num_threads() + 1


def in_process() -> bool:
    """True where helpers must run as threads: asked for, or a frozen app without WORKBENCH_HELPER_PROCESS=1."""
    if os.environ.get("WORKBENCH_DIAGNOSTICS_IN_PROCESS", "") == "1":
        return True
    return bool(getattr(sys, "frozen", False)) and os.environ.get("WORKBENCH_HELPER_PROCESS", "") != "1"


def _resolve(target: str) -> Callable[..., Any]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


class HelperJob:
    """One diagnostic job in a helper process (or a thread where processes are not possible)."""

    def __init__(self, target: str, payload: Any, on_message: Callable[[Any], None], *,
                 on_done: Callable[[Any], None] | None = None, threads: int = 1, name: str = "diagnostics",
                 later: bool = False, warm: tuple[str, ...] = (), after_training: bool = False) -> None:
        """`later=True` starts the helper without its payload (given by `submit`), so that its start-up and the
        imports of `warm` happen while training still runs. `after_training=True`: end-of-run work, which runs in
        a thread of this process unless a window shares it (see the module's docstring)."""
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
        self.after_training = after_training
        self._finished = threading.Event()
        self._process: Any = None
        self._stop: Any = None
        self._reader: threading.Thread | None = None

    # --- control ----------------------------------------------------------------------------------

    def start(self) -> HelperJob:
        """Start the job. A child process gets its payload pickled; a job in a thread gets the payload itself, not a
        copy (jobs read their payload and never change it), which spares pickling a trained model twice."""
        payload, self._payload = self._payload, None
        if self._later:
            payload = None
        if not in_process() and not (self.after_training and not interactive_host()):
            try:
                pickled = None if payload is None else pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
                header = {"target": self.target, "payload": pickled, "threads": self.threads, "warm": self._warm,
                          "sys_path": [p for p in sys.path if p]}
                self._process = _Child(self.name, header, self.threads)
                self._stop = _StopSignal(self._process)
                self._reader = threading.Thread(target=self._read, args=(self._process.messages,), daemon=True,
                                                name=f"workbench-{self.name}-reader")
                self._reader.start()
                return self
            except (OSError, ValueError, RuntimeError):
                log.info("no helper process for %s; running it in a thread", self.name, exc_info=True)
                self._process = None
        self._stop = threading.Event()
        self._pending = payload
        if payload is not None:
            self._run_in_thread()
        return self

    def submit(self, payload: Any, threads: int = 1) -> None:
        """The payload of a helper started with `later=True`; `threads` it may use from now on."""
        if self._process is not None:
            self._process.send(("payload", pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL), threads))
        else:
            self._pending = payload
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

    def _run_here(self, payload: Any) -> None:
        from workbench.core.diagnostics.background import lower_thread_priority

        lower_thread_priority(NICENESS)
        try:
            result = _resolve(self.target)(payload, lambda m: self._deliver("message", m),
                                           self._stop.is_set)
            self._deliver("__done__", result)
        except InterruptedError:
            pass
        except Exception:
            self._deliver("__error__", traceback.format_exc())
        finally:
            self._finished.set()
