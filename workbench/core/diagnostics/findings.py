"""Findings: what a diagnostic check reports, and how it becomes an engine event or a config change.

A finding carries a severity, the evidence (numbers, and paths of PNG or .npy files), a plain-language
explanation, the fix in words and, where the fix is a setting, a machine-applicable config patch such as
`{"training.class_weighting": True}`.

A finding has a life: it is raised, may be updated as the evidence grows, and is resolved (the evidence
turned, e.g. a new best validation loss) or withdrawn (the evidence was a fluke, e.g. a warm-up bump).
Each change adds an entry to its `history`, so the report can say "overfitting from epoch 3 to 6;
resolved: the validation loss fell to a new best at 15".
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from workbench.core.events import FindingRaised
from workbench.core.fixes import apply_patch  # re-exported: the one implementation lives beside the fixes

__all__ = ["CLOSED", "INFO", "PASSED", "PROBLEM", "SEVERITIES", "STATUSES", "WARNING", "Finding", "apply_patch",
           "at_least", "expected_initial_loss", "passed_finding", "plain", "severity_rank"]

INFO, WARNING, PROBLEM = "info", "warning", "problem"
SEVERITIES = (INFO, WARNING, PROBLEM)
RAISED, UPDATED, RESOLVED, WITHDRAWN = "raised", "updated", "resolved", "withdrawn"
STATUSES = (RAISED, UPDATED, RESOLVED, WITHDRAWN)
CLOSED = (RESOLVED, WITHDRAWN)  # no longer a warning: the report and the GUI show them as history
PASSED = "passed"  # evidence["verdict"] of a check that found nothing wrong, with evidence["basis"] naming its numbers


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
    status: str = RAISED  # "raised", "updated", "resolved" or "withdrawn"
    history: tuple[dict[str, Any], ...] = ()  # {"status", "epoch", "note"}, oldest first

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}; use one of {SEVERITIES}")
        if self.status not in STATUSES:
            raise ValueError(f"unknown finding status {self.status!r}; use one of {STATUSES}")

    @property
    def open(self) -> bool:
        """Still a live concern (raised or updated), not resolved or withdrawn."""
        return self.status not in CLOSED

    def _next(self, status: str, note: str, epoch: int | None, changes: dict[str, Any]) -> Finding:
        entry = {"status": status, "epoch": epoch, "note": note}
        return dataclasses.replace(self, status=status, history=(*self.history, entry), **changes)

    def raised_at(self, epoch: int | None, note: str = "") -> Finding:
        """This finding as first raised, with its history started."""
        return dataclasses.replace(self, status=RAISED, history=({"status": RAISED, "epoch": epoch,
                                                                  "note": note or self.title},))

    def updated(self, epoch: int | None, note: str, **changes: Any) -> Finding:
        """The same concern with fresher evidence (a new title, explanation or evidence in `changes`)."""
        return self._next(UPDATED, note, epoch, changes)

    def resolved(self, epoch: int | None, note: str) -> Finding:
        """The evidence turned: the concern is over (kept, with its history, for the report)."""
        return self._next(RESOLVED, note, epoch, {})

    def withdrawn(self, epoch: int | None, note: str) -> Finding:
        """The evidence did not hold up (it was a fluke): the finding should not have stood."""
        return self._next(WITHDRAWN, note, epoch, {})

    def story(self) -> str:
        """The finding's life in one line, e.g. "raised at epoch 3; updated at 6: ...; resolved at 15: ..."."""
        parts = []
        for entry in self.history:
            when = f" at epoch {entry['epoch']}" if entry.get("epoch") is not None else ""
            note = f": {entry['note']}" if entry.get("note") else ""
            parts.append(f"{entry['status']}{when}{note}")
        return "; ".join(parts) or f"{self.status}: {self.title}"

    def to_event(self) -> FindingRaised:
        """The engine event; the patch and the paper item travel inside the evidence."""
        evidence = plain(dict(self.evidence))  # numpy values and NaN never reach the GUI or a JSON file
        if self.patch:
            evidence["patch"] = dict(self.patch)
        if self.paper_item:
            evidence["paper_item"] = self.paper_item
        return FindingRaised(self.code, self.severity, self.title, self.explanation, self.fix, evidence, self.pane,
                             self.status, tuple(plain(dict(h)) for h in self.history))

    def to_dict(self) -> dict[str, Any]:
        """The event's fields as plain JSON values (as findings.json stores them)."""
        return dataclasses.asdict(self.to_event())


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def at_least(findings: list[Finding], severity: str) -> list[Finding]:
    """The open findings of `severity` or worse (resolved and withdrawn ones no longer count)."""
    floor = severity_rank(severity)
    return [f for f in findings if severity_rank(f.severity) >= floor and f.open]


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


def passed_finding(code: str, title: str, basis: str, evidence: dict[str, Any], pane: str, paper_item: str) -> Finding:
    """A check that found nothing wrong, as an info finding whose evidence names the numbers it rests on
    (`basis`, e.g. "0 duplicate pairs among 1,797 images"): the checklist shows it as the item's pass."""
    return Finding(code, INFO, title, f"{basis} (paper, checklist item {paper_item.rsplit('.', 1)[-1]}).", "",
                   {**evidence, "verdict": PASSED, "basis": basis}, pane=pane, paper_item=paper_item)
