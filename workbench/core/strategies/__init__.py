"""Training strategies (how a network is trained); the registry lives in the torch-free catalog.

`load_strategy` imports the implementing class only when a run needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.core.catalog import resolve
from workbench.core.catalog.strategies import STRATEGIES, StrategyInfo, register_strategy

if TYPE_CHECKING:
    from workbench.core.strategies.base import Strategy

__all__ = ["STRATEGIES", "StrategyInfo", "load_strategy", "register_strategy"]


def load_strategy(name: str) -> Strategy:
    return resolve(STRATEGIES[name].impl)()
