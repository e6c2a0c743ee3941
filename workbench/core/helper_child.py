"""The helper process's side of a HelperJob (diagnostics/helper_process.py): read the job from stdin, run it, write its messages to stdout.

The child is started as `python -c "import os; os.nice(15); …; main()"`, so it runs at lowered priority
from its first line (before torch or scikit-learn are imported) with one BLAS and torch thread, and
never re-imports the parent's main module (as multiprocessing's spawn would, at full priority). Frames
are length-prefixed pickles. Output of libraries that print goes to stderr, never into the frames.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import queue
import struct
import sys
import threading
import traceback
from typing import IO, Any

_LENGTH = struct.Struct("<Q")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


def limit_threads(threads: int = 1) -> None:
    """One thread for OpenMP/BLAS (threadpoolctl) and torch in this process (the helper's priority is lowered by
    its first line, before anything is imported)."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    with contextlib.suppress(Exception):
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    with contextlib.suppress(Exception):
        import torch

        torch.set_num_threads(threads)
        with contextlib.suppress(RuntimeError):  # only settable before the first parallel work
            torch.set_num_interop_threads(threads)




def write_frame(stream: IO[bytes], value: Any, lock: threading.Lock | None = None) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    with lock or contextlib.nullcontext():
        stream.write(_LENGTH.pack(len(data)) + data)
        stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    """The next frame, or raise EOFError when the other side has closed the pipe."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError
    size = _LENGTH.unpack(head)[0]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def limit_threads_to(threads: int) -> None:
    """Raise the thread limits again (end-of-run work, once training no longer needs the cores)."""
    with contextlib.suppress(Exception):
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    with contextlib.suppress(Exception):
        import torch

        torch.set_num_threads(threads)


def _resolve(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def main() -> None:
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a library's print() must not corrupt the frames
    inbox = sys.stdin.buffer
    lock = threading.Lock()

    def send(kind: str, value: Any) -> None:
        write_frame(channel, (kind, value), lock)

    try:
        header = read_frame(inbox)
    except EOFError:
        return
    stop, later = threading.Event(), queue.Queue()

    def listen() -> None:
        while True:
            try:
                frame = read_frame(inbox)
            except (EOFError, OSError, ValueError):
                stop.set()  # the parent is gone or closed the pipe: stop
                return
            if frame[0] == "payload":
                later.put((frame[1], frame[2]))
            elif frame[0] == "stop":
                stop.set()

    # Listen at once, before the slow imports: the parent's payload must never wait in a full pipe.
    threading.Thread(target=listen, daemon=True, name="workbench-helper-inbox").start()
    sys.path[:0] = [p for p in header["sys_path"] if p not in sys.path]
    limit_threads(header["threads"])
    try:
        function = _resolve(header["target"])
        for module in header["warm"]:
            with contextlib.suppress(ImportError):
                importlib.import_module(module)
        payload = header["payload"]
        while payload is None:
            if stop.is_set():
                raise InterruptedError("cancelled before the work arrived")
            with contextlib.suppress(queue.Empty):
                payload, threads = later.get(timeout=0.2)
                if threads > 1:
                    limit_threads_to(threads)
        result = function(pickle.loads(payload), lambda message: send("message", message), stop.is_set)
        send("__done__", result)
    except InterruptedError:
        send("__cancelled__", None)
    except BaseException:  # report, never hang the parent
        with contextlib.suppress(Exception):
            send("__error__", traceback.format_exc())
    finally:
        with contextlib.suppress(Exception):
            channel.close()
