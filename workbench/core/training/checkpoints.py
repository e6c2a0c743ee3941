"""Checkpoints written atomically and read without unpickling arbitrary objects.

A run's checkpoints go through a `CheckpointWriter`: the state is serialised at once, in the training thread
(a consistent copy, as training goes on changing the weights), and a background thread writes and fsyncs the
file while the next epoch trains; the disk never holds training up. A crash before a write lands leaves the
previous, complete file (every write is atomic).
"""

from __future__ import annotations

import io
import pickle
import queue
import threading
from pathlib import Path
from typing import Any

import torch

from workbench.core.io import atomic_write_bytes


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read safely; the message says why."""


def _standard_layout(value: Any) -> Any:
    """`value` with every tensor in the standard (contiguous) layout: a run trained channels-last saves weights any
    tool can read as they are (safetensors, for one, refuses channels-last tensors); loading copies them back
    into the model's own layout."""
    if isinstance(value, torch.Tensor):
        return value.contiguous()
    if isinstance(value, dict):
        return {k: _standard_layout(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_standard_layout(v) for v in value)
    return value


def _serialised(state: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    torch.save(_standard_layout(state), buffer)
    return buffer.getvalue()


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    atomic_write_bytes(path, _serialised(state))


class CheckpointWriter:
    """Writes serialised checkpoints in order, in one background thread. A failed write (a full disk) is raised
    by the next `save` or by `flush`, which waits until every file handed over is on disk."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Path, bytes] | None] = queue.Queue()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def save(self, state: dict[str, Any], path: Path) -> None:
        self._raise_error()
        data = _serialised(state)  # now: training goes on changing the weights
        if self._thread is None:
            self._thread = threading.Thread(target=self._write, daemon=True, name="workbench-checkpoints")
            self._thread.start()
        self._queue.put((Path(path), data))

    def _write(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                if self._error is None:  # after a failure, later files wait for the run to hear of it
                    atomic_write_bytes(*item)
            except BaseException as error:  # raised in the training thread, at the next save or flush
                self._error = error
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def flush(self) -> None:
        """Wait until every checkpoint handed over is written; raise the error of one that could not be."""
        self._queue.join()
        self._raise_error()

    def close(self) -> None:
        """Flush, keeping any error to itself (for `finally` blocks that must not mask the run's own error)."""
        if self._thread is not None:
            self._queue.join()
            self._queue.put(None)
            self._thread.join()
            self._thread = None


def load_checkpoint(path: Path, map_location: str = "cpu") -> dict[str, Any]:
    """Load with `weights_only=True`: tensors and plain containers only, never arbitrary code."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except pickle.UnpicklingError as error:
        if "weights only" not in str(error).lower() and "weights_only" not in str(error):
            raise CheckpointError(f"checkpoint {path} is damaged or incomplete ({_first_line(error)})") from None
        raise CheckpointError(
            f"checkpoint {path} was refused: it holds Python objects other than plain weights. "
            "Workbench never unpickles arbitrary objects; export the weights as .safetensors instead"
        ) from None
    except Exception as error:  # a cut-off or overwritten file: zip reader, EOF and size errors
        raise CheckpointError(f"checkpoint {path} is damaged or incomplete ({_first_line(error)}); it was "
                              "probably cut off by a crash or a full disk") from None


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return (text[0][:200] if text else "") or type(error).__name__
