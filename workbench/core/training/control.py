"""Cooperative pause, resume and stop, checked by the training loop between batches."""

from __future__ import annotations

import threading


class RunControl:
    """A token shared by the engine (which checks it) and a front end (which sets it). Thread-safe."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def request_stop(self) -> None:
        self._stop.set()
        self._running.set()  # wake a paused loop so it can stop

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self, timeout: float | None = None) -> bool:
        """Block while paused; returns False when a stop was requested."""
        self._running.wait(timeout)
        return not self._stop.is_set()
