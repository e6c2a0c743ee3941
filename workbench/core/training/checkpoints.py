"""Checkpoints written atomically and read without unpickling arbitrary objects."""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import torch

from workbench.core.io import atomic_write_bytes


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read safely; the message says why."""


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


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
