"""Registry of training strategies (how a network is trained), as frozen dataclasses.

Each entry names the class that implements it as "module:Class", so listing strategies (for the GUI
and for config validation) never imports torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.core.strategies.base import Strategy


@dataclass(frozen=True)
class StrategyInfo:
    name: str
    label: str
    description: str
    paper_section: str = ""
    impl: str = "workbench.core.strategies.base:Strategy"
    params: tuple[str, ...] = field(default_factory=tuple)  # StrategyConfig fields this strategy reads


STRATEGIES: dict[str, StrategyInfo] = {
    s.name: s
    for s in (
        StrategyInfo(
            "scratch",
            "From scratch",
            "Train every weight from a random start; needs enough data (section II-B suggests ~1,500 per class).",
            "II-B",
        ),
    )
}


def register_strategy(info: StrategyInfo) -> None:
    """Add or replace a strategy entry (used by Workbench's own modules and by plugins)."""
    STRATEGIES[info.name] = info


def load_strategy(name: str) -> Strategy:
    info = STRATEGIES[name]
    module_name, _, class_name = info.impl.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls()
