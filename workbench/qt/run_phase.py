"""The phase of the Train pane's run, as one enum rather than a free string.

It is a `StrEnum`, so `phase == "completed"` still reads naturally in tests and scripts. The runner knows
whether a thread is going; the phase adds what the user needs to see: preparing, stopping, how it ended.
"""

from __future__ import annotations

from enum import StrEnum


class RunPhase(StrEnum):
    IDLE = "idle"
    PREPARING = "preparing"
    TRAINING = "training"
    PAUSED = "paused"
    STOPPING = "stopping"
    COMPLETED = "completed"
    STOPPED = "stopped"
    EARLY_STOPPED = "early_stopped"
    FAILED = "failed"

    @classmethod
    def from_status(cls, status: str) -> RunPhase:
        """The phase for a run's final status ("completed", "stopped", ...); unknown statuses count as failed."""
        try:
            return cls(status)
        except ValueError:
            return cls.FAILED

    @property
    def active(self) -> bool:
        """A run thread is (or should be) going: preparing, training, paused or stopping."""
        return self in (RunPhase.PREPARING, RunPhase.TRAINING, RunPhase.PAUSED, RunPhase.STOPPING)

    @property
    def finished(self) -> bool:
        """The run ended with a trained model (all epochs, or stopped early for lack of improvement)."""
        return self in (RunPhase.COMPLETED, RunPhase.EARLY_STOPPED)
