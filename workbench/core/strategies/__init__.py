"""Registry of training strategies (how a network is trained), as frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StrategyInfo:
    name: str
    label: str
    description: str
    paper_section: str = ""


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
