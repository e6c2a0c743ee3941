"""SIGTERM and SIGINT (Ctrl+C) as a stop: the run saves a checkpoint and is marked stopped, not left 'running'.

A batch system's SIGTERM and a user's Ctrl+C both ask the engine to stop after the current batch, which
writes last.pt (mid-epoch) and records the run as stopped, so it can be resumed. A second signal quits at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from workbench.core.training.control import RunControl


@contextlib.contextmanager
def stop_on_signals(control: RunControl, say: Any = None) -> Iterator[RunControl]:
    """While inside, SIGINT and SIGTERM request a stop through `control`; outside, the old handlers are back.

    Only the main thread may set handlers; elsewhere (a GUI worker), and under torchrun, this does nothing.
    """
    # Under torchrun each rank would stop at its own batch and the others would wait in all-reduce for ever:
    # there the launcher's own handling (it ends every rank) stays; resume continues from the last epoch.
    distributed = int(os.environ.get("WORLD_SIZE", "1") or 1) > 1
    if distributed or threading.current_thread() is not threading.main_thread():
        yield control
        return
    say = say or (lambda text: print(text, file=sys.stderr, flush=True))
    wanted = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    previous = {sig: signal.getsignal(sig) for sig in wanted}

    def handler(signum: int, _frame: Any) -> None:
        if control.stop_requested:  # the second signal: quit at once
            raise KeyboardInterrupt
        name = signal.Signals(signum).name
        say(f"\n{name} received: stopping after the current batch and saving a checkpoint "
            "(send it again to quit at once)")
        control.request_stop()

    for sig in wanted:
        signal.signal(sig, handler)
    try:
        yield control
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
