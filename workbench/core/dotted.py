"""Nested settings as dotted keys, the form in which runs are compared, resumes told apart and reports list them."""

from __future__ import annotations

from typing import Any


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"training": {"lr": 0.1}} → {"training.lr": 0.1}; lists and other values stay as they are."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat
