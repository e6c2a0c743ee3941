"""Catalogs: the torch-free leaf registries that the config validates against and the GUI builds forms from.

Each module holds one kind of entry (frozen dataclasses with a name, a label and a one-line description) and
its `register_*` function. They import nothing heavier than the standard library, so `config` imports them
downwards and listing the choices never loads torch. Behaviour that needs torch is named as "module:attribute"
and imported only when used (`resolve`).
"""

from __future__ import annotations

import importlib
from typing import Any


def resolve(reference: str) -> Any:
    """The object that a "module:attribute" reference names (attributes may be dotted: "mod:Class.method")."""
    module_name, sep, attribute = reference.partition(":")
    if not sep or not attribute:
        raise ValueError(f"{reference!r} is not a 'module:attribute' reference")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def check_reference(kind: str, name: str, reference: str) -> None:
    """Refuse, at registration, a reference that could never be resolved (a plugin's typo shows up early)."""
    if ":" not in reference or reference.startswith(":") or reference.endswith(":"):
        raise ValueError(f"{kind} {name!r}: {reference!r} must name 'module:attribute'")
