"""The findings the report lists: those of the run and of its dataset, as the app showed them, with their fixes.

Two sources, merged as the app's finding store merges them: the data checks the app ran on the dataset
before training (`dataset_findings.json` beside the runs) and the run's own findings (`findings.json`:
its data checks, the training monitors and the end-of-run checks). A check reported by both is shown
once, from the run, with what the data checks said first. Each finding carries the fixes applied from it
(from the project's record `diagnostics.applied_fixes`: setting, from → to, and whether the run used the
new value) and its state: open, resolved (or withdrawn, for findings that keep their own life) or a note.
"""

from __future__ import annotations

import json
from typing import Any

from workbench.core import checklist

_HIDDEN = ("patch", "paper_item", "alternatives", "examples", "metrics_to_watch")
FILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".npy", ".npz")
SEVERITY_RANK = {"info": 0, "warning": 1, "problem": 2, "error": 2}


def run_findings(raw: Any) -> list[dict[str, Any]]:
    """The findings of a run's findings.json (a list, or {"findings": [...]})."""
    if isinstance(raw, dict):
        raw = raw.get("findings", [])
    return [f for f in raw if isinstance(f, dict)] if isinstance(raw, list) else []


def _code(finding: dict[str, Any]) -> str:
    return str(finding.get("code") or finding.get("title") or "")


def _key(finding: dict[str, Any]) -> tuple[str, str]:
    return _code(finding), str(finding.get("title", ""))


def _setting(config: dict[str, Any], key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def run_rechecked_data(d: dict[str, Any]) -> bool:
    """True when the run's own data checks ran to the end (a finished run with data checks on)."""
    return checklist.run_rechecked_data(d.get("config") or {}, str((d.get("status") or {}).get("status", "")))


def checked_sources(d: dict[str, Any]) -> set[str]:
    """The sources whose checks have run, as the app's finding store counts them."""
    checked = set()
    if (d.get("status") or {}).get("status") in checklist.FINISHED:
        checked.add("run")
    if (d.get("dataset_record") or {}).get("checked") or run_rechecked_data(d):
        checked.add("data")
    return checked


def merged_findings(d: dict[str, Any]) -> list[dict[str, Any]]:
    """The findings that stand, as the app shows them, worst first: the run's, plus those of the data checks
    before it that the run did not report again, unless the run's own data checks ran to the end (then
    theirs supersede the earlier ones, which the findings section lists as resolved)."""
    in_run = run_findings(d.get("findings_raw"))
    raised = {_code(f) for f in in_run}
    earlier = [] if run_rechecked_data(d) else (d.get("dataset_record") or {}).get("findings", [])
    before = [f for f in earlier if _code(f) not in raised]
    return sorted([*before, *in_run], key=lambda f: -SEVERITY_RANK.get(str(f.get("severity")), 0))


def applied_fixes(d: dict[str, Any]) -> list[dict[str, Any]]:
    """The fixes recorded in the run's config (`diagnostics.applied_fixes`): code, title, changes."""
    fixes = ((d.get("config") or {}).get("diagnostics") or {}).get("applied_fixes") or []
    return [f for f in fixes if isinstance(f, dict)]


def _decoded(value: Any) -> Any:
    """A recorded value: the fix record keeps values as JSON text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _fixes_of(code: str, d: dict[str, Any]) -> list[dict[str, Any]]:
    config = d.get("config") or {}
    fixes = []
    for fix in applied_fixes(d):
        if fix.get("code") != code:
            continue
        for change in fix.get("changes") or []:
            key, after = str(change.get("key", "")), _decoded(change.get("after"))
            fixes.append({"setting": key, "from": _decoded(change.get("before")), "to": after,
                          "in_run": _setting(config, key) == after})
    return fixes


def report_findings(d: dict[str, Any]) -> list[dict[str, Any]]:
    """Every finding of the run and its dataset: severity, evidence, source, fixes applied, state and why."""
    before = {_code(f): f for f in (d.get("dataset_record") or {}).get("findings", [])}
    # One check may report several findings (a shortcut per class): each is listed, keyed by code and title.
    in_run = {_key(f): f for f in run_findings(d.get("findings_raw"))}
    raised = {k[0] for k in in_run}
    before = {(code, ""): f for code, f in before.items() if code not in raised}
    codes = list(dict.fromkeys([*before, *in_run]))
    fixed_codes = [f.get("code", "") for f in applied_fixes(d)]
    known = {k[0] for k in codes} | raised
    codes += [(c, "") for c in dict.fromkeys(fixed_codes) if c and c not in known]
    first_seen = {_code(f): f for f in (d.get("dataset_record") or {}).get("findings", [])}
    rows = []
    for key in codes:
        code = key[0]
        finding = in_run.get(key) or before.get(key) or _fix_stub(code, d)
        first = first_seen.get(code)
        fixes = _fixes_of(code, d) or _patch_in_run(first, d)
        state, why = _state(finding, first, key in in_run, fixes, d)
        rows.append({
            "code": code, "severity": str(finding.get("severity", "info")), "title": str(finding.get("title", code)),
            "explanation": str(finding.get("explanation", "")), "fix": str(finding.get("fix", "") or ""),
            "evidence": evidence_text(finding.get("evidence") or {}),
            "source": "this run" if key in in_run else "data checks before the run",
            "first": first if first is not None and key in in_run and _differs(first, finding) else None,
            "fixes": fixes, "state": state, "why": why, "item": checklist.checklist_item(finding),
            "history": finding.get("history") if isinstance(finding.get("history"), list) else [],
        })
    return sorted(rows, key=lambda r: (r["state"] != "open", -SEVERITY_RANK.get(r["severity"], 0)))


def _differs(first: dict[str, Any], now: dict[str, Any]) -> bool:
    return (first.get("severity"), first.get("title")) != (now.get("severity"), now.get("title"))


def _patch_in_run(first: dict[str, Any] | None, d: dict[str, Any]) -> list[dict[str, Any]]:
    """Without a recorded fix: the settings the data checks suggested, where this run already uses all of them
    (the user set them by hand, or the fix was applied before fixes were recorded)."""
    evidence = (first or {}).get("evidence") or {}
    patch = evidence.get("patch") or (first or {}).get("patch") or {}
    if not isinstance(patch, dict) or not patch:
        return []
    config = d.get("config") or {}
    if any(_setting(config, k) != v for k, v in patch.items()):
        return []
    return [{"setting": k, "from": None, "to": v, "in_run": True, "inferred": True} for k, v in patch.items()]


def _fix_stub(code: str, d: dict[str, Any]) -> dict[str, Any]:
    fix = next(f for f in applied_fixes(d) if f.get("code") == code)
    return {"code": code, "severity": "info", "title": fix.get("title") or code,
            "explanation": "A fix applied from this finding; the finding itself was not stored."}


def _state(finding: dict[str, Any], first: dict[str, Any] | None, raised_by_run: bool, fixes: list[dict[str, Any]],
           d: dict[str, Any]) -> tuple[str, str]:
    """("open" | "resolved" | "note", the reason in words)."""
    status = finding.get("status")
    if status in ("resolved", "withdrawn"):  # a finding that keeps its own life says so itself
        history = finding.get("history") or []
        last = history[-1].get("note", "") if history and isinstance(history[-1], dict) else ""
        return str(status), last or str(status)
    severity = str(finding.get("severity", "info"))
    undone = [f for f in fixes if not f["in_run"]]
    if undone:
        return ("open" if severity != "info" else "note",
                "the fix was applied but this run does not use it: " + ", ".join(f["setting"] for f in undone))
    if raised_by_run:
        if severity == "info" and fixes:
            return "resolved", "fix in effect; this run's checks now report it only as a note"
        if severity == "info" and first is not None and SEVERITY_RANK.get(str(first.get("severity")), 0) > 0:
            return "resolved", "this run's checks now report it only as a note"
        return ("note", "informational") if severity == "info" else ("open", "raised by this run")
    if run_rechecked_data(d):
        why = "not raised again by this run's data checks" + (" (fix in effect)" if fixes else "")
        return ("note" if severity == "info" and not fixes else "resolved"), why
    if fixes:
        return "open", "fix applied; not re-checked by this run (its data checks did not run)"
    return ("note", "informational") if severity == "info" else ("open", "not re-checked by this run")


def _is_file(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and all(_is_file(v) for v in value)
    return isinstance(value, str) and value.lower().endswith(FILE_SUFFIXES)


def evidence_text(evidence: dict[str, Any], limit: int = 360) -> str:
    """The evidence numbers in one line: scalars as they are, small lists and mappings inline, the rest counted."""
    parts = []
    for key, value in evidence.items():
        if key in _HIDDEN or value is None or _is_file(value):
            continue  # pictures and arrays named by path are shown by the app, not as text
        if isinstance(value, dict):
            inner = ", ".join(f"{k} {v}" for k, v in list(value.items())[:8] if not isinstance(v, (dict, list)))
            text = inner + (" …" if len(value) > 8 else "") if inner else f"{len(value)} entries"
        elif isinstance(value, list):
            plain = all(not isinstance(v, (dict, list)) for v in value)
            text = ", ".join(map(str, value[:8])) + (" …" if len(value) > 8 else "") if plain and value else \
                f"{len(value)} item(s)"
        elif isinstance(value, float):
            text = f"{value:.4g}"
        else:
            text = str(value)
        parts.append(f"{key.replace('_', ' ')}: {text}")
    line = "; ".join(parts)
    return line if len(line) <= limit else line[:limit - 1] + "…"
