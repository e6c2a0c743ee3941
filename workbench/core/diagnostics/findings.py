"""Findings: what a diagnostic check reports, and how it becomes an engine event or a config change.

A finding carries a severity, the evidence (numbers, and paths of PNG or .npy files), a plain-language
explanation, the fix in words and, where the fix is a setting, a machine-applicable config patch such as
`{"training.class_weighting": True}`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.core.events import FindingRaised

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig

INFO, WARNING, PROBLEM = "info", "warning", "problem"
SEVERITIES = (INFO, WARNING, PROBLEM)


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str  # "info", "warning" or "problem"
    title: str
    explanation: str
    fix: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    pane: str = "data"
    patch: dict[str, Any] = field(default_factory=dict)  # dotted config keys -> new values
    paper_item: str = ""  # checklist item of the paper, e.g. "II-A.2" or "II-C"

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}; use one of {SEVERITIES}")

    def to_event(self) -> FindingRaised:
        """The engine event; the patch and the paper item travel inside the evidence."""
        evidence = plain(dict(self.evidence))  # numpy values and NaN never reach the GUI or a JSON file
        if self.patch:
            evidence["patch"] = dict(self.patch)
        if self.paper_item:
            evidence["paper_item"] = self.paper_item
        return FindingRaised(self.code, self.severity, self.title, self.explanation, self.fix, evidence, self.pane)

    def to_dict(self) -> dict[str, Any]:
        """The event's fields as plain JSON values (as findings.json stores them)."""
        return dataclasses.asdict(self.to_event())


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def at_least(findings: list[Finding], severity: str) -> list[Finding]:
    """The findings of `severity` or worse."""
    floor = severity_rank(severity)
    return [f for f in findings if severity_rank(f.severity) >= floor]


def apply_patch(config: ProjectConfig, patch: dict[str, Any]) -> ProjectConfig:
    """A validated copy of `config` with the dotted keys of `patch` set (the GUI's "Apply fix")."""
    from workbench.core.config import ConfigError, config_from_dict

    raw = config.model_dump(mode="json")
    for key, value in patch.items():
        node = raw
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"patch key {key!r} does not name a setting")
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(f"patch key {key!r} does not name a setting")
        node[parts[-1]] = value
    return config_from_dict(raw, source="patched project")


def expected_initial_loss(num_classes: int) -> float:
    """Cross-entropy of a uniform guess, -ln(1/C): what an untrained classifier should start near."""
    return math.log(max(num_classes, 2))


def plain(value: Any) -> Any:
    """Numbers and containers as plain Python values, so evidence can be stored as JSON."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else (1e308 if value > 0 else -1e308)
    return value
