"""A job for the helper-process tests: reports the limits it runs under, then optionally waits to be cancelled."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any


def report_limits(payload: dict[str, Any], send: Callable[[Any], None], should_stop: Callable[[], bool]) -> dict:
    import torch
    from threadpoolctl import threadpool_info

    send(("started", os.getpid()))
    deadline = time.monotonic() + float(payload.get("sleep", 0.0))
    while time.monotonic() < deadline:
        if should_stop():
            raise InterruptedError("cancelled")
        time.sleep(0.05)
    blas = [pool["num_threads"] for pool in threadpool_info()] or [0]
    policy = os.sched_getscheduler(0) if hasattr(os, "sched_getscheduler") else None
    return {"pid": os.getpid(), "niceness": os.nice(0), "torch_threads": torch.get_num_threads(),
            "blas_threads": max(blas), "policy": policy}
