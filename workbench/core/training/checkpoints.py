"""Checkpoints written atomically and read without unpickling arbitrary objects."""

from __future__ import annotations

import io
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
    except Exception as error:
        raise CheckpointError(
            f"checkpoint {path} was refused: it cannot be read as plain weights ({type(error).__name__}). "
            "Workbench never unpickles arbitrary objects; export the weights as .safetensors instead"
        ) from None
