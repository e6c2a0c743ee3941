"""The paper's seven-item checklist (section II-A): which item a finding concerns, and each item's status.

One function decides the statuses for the in-app checklist and for the report, so the two never
disagree. An item's status is the worst severity of its findings ("note" when all are informational);
with no finding it reads "passed" once the checks that decide it have run, and "not checked" before,
never a pretend pass; a finding whose evidence carries the verdict "passed" (the feature-structure check)
counts as a pass. Evidence Workbench holds itself (the normalisation statistics, the count of looks
at the test set) can be added per item; it decides an item the same way a finding does.

Every status names the number it rests on (issue 14, "evidence before a pass"): `ItemStatus.basis` holds
the numbers of the findings and evidence lines that decided it (a passing check's "basis", e.g.
"0 duplicate pairs among 1,797 images"), and `status_line` joins them to the status. A pass that no
check backed with a number says so ("no number recorded") rather than reading as a bare "passed".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ITEMS = (1, 2, 3, 4, 5, 6, 7)
STATUSES = ("problem", "warning", "note", "passed", "not checked")
# Codes that name no paper item are placed by these words (first match wins, in item order).
KEYWORDS: dict[int, tuple[str, ...]] = {
    1: ("input_size", "representation", "resolution", "resize"),
    2: ("normal", "bit_depth", "intensity"),
    3: ("duplicate", "leak", "unreadable", "blank", "label", "quality", "corrupt", "imbalance", "small_data"),
    4: ("loss", "nan", "gradient", "dead", "pairing", "output", "lr", "fit", "plateau", "diverg"),
    5: ("projection", "feature", "tsne", "umap", "separab"),
    6: ("test_use", "tuning", "no_validation"),
    7: ("external", "shortcut"),
}
# Sections of the paper outside II-A whose findings belong to an item: small data and imbalance are data quality.
SECTIONS = {"II-B": 3, "II-C": 3}
CLOSED = ("resolved", "withdrawn")
# The checks whose run decides an item. Item 5 has none: it passes only on a feature-structure finding whose
# evidence says verdict "passed" (and names the numbers it rests on), never because a run merely finished.
DECIDED_BY = {1: "data", 2: "data", 3: "data", 4: "run"}


@dataclass
class ItemStatus:
    """One item: its status, the findings behind it, and any evidence lines of Workbench's own."""

    item: int
    status: str = "not checked"
    findings: list[Any] = field(default_factory=list)
    evidence: list[tuple[str, str]] = field(default_factory=list)  # (severity, text) known without a finding
    basis: list[str] = field(default_factory=list)  # the numbers the status rests on, one text per check


FINISHED = ("completed", "early_stopped")


def run_rechecked_data(config: Mapping[str, Any], status: str) -> bool:
    """True when a run's own data checks ran to the end (a finished run with data checks on). Their findings
    then supersede those of the data checks made before the run, in the app and in the report alike."""
    diag = config.get("diagnostics") or {}
    return status in FINISHED and bool(diag.get("enabled", True)) and bool(diag.get("data_checks", True))


def _get(finding: Any, key: str, default: Any = None) -> Any:
    if isinstance(finding, Mapping):
        return finding.get(key, default)
    return getattr(finding, key, default)


def checklist_item(finding: Any) -> int | None:
    """The item (1–7) of a finding (a dict or an object): from its paper item ("II-A.3"), else from its code."""
    explicit = _get(finding, "checklist_item")
    if isinstance(explicit, int) and explicit in ITEMS:
        return explicit
    evidence = _get(finding, "evidence") or {}
    paper = str(_get(finding, "paper_item") or (evidence.get("paper_item") if isinstance(evidence, Mapping) else "")
                or "")
    match = re.match(r"II-A\.(\d)", paper)
    if match and int(match.group(1)) in ITEMS:
        return int(match.group(1))
    if paper in SECTIONS:
        return SECTIONS[paper]
    code = str(_get(finding, "code", "") or "").lower().replace("-", "_")
    for item, words in KEYWORDS.items():
        if any(w in code for w in words):
            return item
    return None


def _status(severities: set[str], decided: bool) -> str:
    if "problem" in severities or "error" in severities:
        return "problem"
    if "warning" in severities:
        return "warning"
    if "info" in severities:
        return "note"
    return "passed" if decided else "not checked"


def item_statuses(findings: Iterable[Any], checked: Iterable[str] = (),
                  evidence: Mapping[int, list[tuple[str, str]]] | None = None) -> dict[int, ItemStatus]:
    """{item: ItemStatus} for the seven items, from the findings, the sources whose checks have run
    ("data", "run") and Workbench's own evidence per item ((severity, text) pairs; "info" counts as checked
    and passing, "warning" or "problem" as a finding of that severity, "pending" as not yet decided)."""
    checked = set(checked)
    rows = {n: ItemStatus(n) for n in ITEMS}
    for finding in findings:
        item = checklist_item(finding)
        if item is not None:
            rows[item].findings.append(finding)
    for item, lines in (evidence or {}).items():
        if item in rows:
            rows[item].evidence.extend(lines)
    for row in rows.values():
        # A resolved or withdrawn finding is history: it shows the item was checked, and weighs nothing.
        live = [f for f in row.findings if _get(f, "status") not in CLOSED]
        passes = [f for f in live if (_get(f, "evidence") or {}).get("verdict") == "passed"]
        severities = {str(_get(f, "severity", "info")) for f in live if not any(f is p for p in passes)}
        checked_by_history = len(live) < len(row.findings) or bool(passes)
        own = {s for s, _ in row.evidence if s not in ("info", "pending")}
        decided = DECIDED_BY.get(row.item) in checked or any(s != "pending" for s, _ in row.evidence)
        row.status = _status(severities | own, decided or checked_by_history)
        row.basis = _basis(row, live, passes)
    return rows


NO_NUMBER = "the checks ran and raised nothing, but recorded no number"
SEVERITY_OF = {"problem": ("problem", "error"), "warning": ("warning",), "note": ("info",), "passed": ("info",)}


def _basis(row: ItemStatus, live: list[Any], passes: list[Any]) -> list[str]:
    """The numbers behind the status: of the passing checks for a pass, of the deciding findings otherwise."""
    if row.status == "not checked":  # nothing measured yet; the report's evidence column says what is pending
        return []
    wanted = SEVERITY_OF[row.status]
    deciding = passes if row.status == "passed" else \
        [f for f in live if str(_get(f, "severity", "info")) in wanted and not any(f is p for p in passes)]
    texts = [str((_get(f, "evidence") or {}).get("basis") or _get(f, "title", "") or _get(f, "code", ""))
             for f in deciding]
    texts += [text for s, text in row.evidence if s in wanted]
    texts = list(dict.fromkeys(t for t in texts if t))
    if not texts and row.status == "passed":
        return [NO_NUMBER]
    return texts


def status_line(row: ItemStatus) -> str:
    """The status with the numbers it rests on, e.g. "passed: 0 duplicate pairs among 1,797 images"."""
    return f"{row.status}: {'; '.join(row.basis)}" if row.basis else row.status
