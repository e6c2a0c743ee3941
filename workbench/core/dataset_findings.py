"""What the pitfall doctor said about a dataset before any run: the app's data-check findings, kept.

The app's data checks run before training; their findings (the imbalance that a one-click fix then
handled, the small-data advice) are kept beside the runs (`<runs folder>/dataset_findings.json`, one entry
per dataset folder), so the report shows the same findings the app showed. The fixes themselves are
recorded in the project (`diagnostics.applied_fixes`), and so in every run's config. Qt-free and light.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from workbench.core.io import atomic_write_bytes

STORE_NAME = "dataset_findings.json"


def dataset_key(source: str) -> str:
    """One key per dataset folder or manifest, however the path was spelled."""
    try:
        return str(Path(source).expanduser().resolve())
    except (OSError, RuntimeError):
        return str(source)


def as_dict(finding: Any) -> dict[str, Any]:
    """A finding (engine event, Finding, shown finding or dict) as plain JSON values."""
    if isinstance(finding, dict):
        data = dict(finding)
    elif dataclasses.is_dataclass(finding) and not isinstance(finding, type):
        data = dataclasses.asdict(finding)
    else:
        data = {k: getattr(finding, k, "") for k in ("code", "severity", "title", "explanation", "fix", "evidence")}
    return json.loads(json.dumps(data, default=str))


def _read(runs_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((Path(runs_dir) / STORE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(runs_dir: Path, data: dict[str, Any]) -> None:
    atomic_write_bytes(Path(runs_dir) / STORE_NAME, json.dumps(data, indent=1, default=str).encode("utf-8"))


def load_dataset_record(runs_dir: str | Path, source: str) -> dict[str, Any]:
    """{"checked": time or "", "findings": [...]} for one dataset (no findings when unknown)."""
    record = _read(Path(runs_dir)).get(dataset_key(source), {})
    return {"checked": record.get("checked", ""), "findings": list(record.get("findings", []))}


def save_data_findings(runs_dir: str | Path, source: str, findings: list[Any]) -> None:
    """Store the latest data-check findings of a dataset (replacing earlier ones)."""
    if not source:
        return
    data = _read(Path(runs_dir))
    record = data.setdefault(dataset_key(source), {})
    record.update(checked=time.strftime("%Y-%m-%d %H:%M:%S"), findings=[as_dict(f) for f in findings])
    _write(Path(runs_dir), data)


def merge_store(old_runs_dir: str | Path, new_runs_dir: str | Path, source: str = "") -> None:
    """Carry the dataset records of one runs folder (only that of `source`, if given) into another: a project
    saved for the first time takes what the app's data checks found while it was unsaved."""
    old = _read(Path(old_runs_dir))
    if source:
        old = {k: v for k, v in old.items() if k == dataset_key(source)}
    if not old or Path(old_runs_dir).resolve() == Path(new_runs_dir).resolve():
        return
    new = _read(Path(new_runs_dir))
    for key, record in old.items():
        target = new.setdefault(key, {})
        if record.get("checked", "") >= target.get("checked", ""):
            target.update(checked=record.get("checked", ""), findings=record.get("findings", []))
    Path(new_runs_dir).mkdir(parents=True, exist_ok=True)
    _write(Path(new_runs_dir), new)
