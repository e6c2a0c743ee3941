"""Helpers for work that runs beside training: a lower thread priority, so training keeps the CPU."""

from __future__ import annotations

import contextlib
import os
import threading


def lower_thread_priority(niceness: int = 10) -> None:
    """Make the calling thread yield the CPU to training (Linux: niceness is per thread; elsewhere a no-op)."""
    if not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
        return
    with contextlib.suppress(OSError, PermissionError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
