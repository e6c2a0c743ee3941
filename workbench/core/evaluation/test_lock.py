"""The locked test set: every evaluation on it is an explicit, recorded and counted act.

Each use is appended to the run's `run.json` (`test_evaluations`) and to a ledger beside the runs,
`<runs_dir>/test_set_uses.jsonl`, keyed by a hash of the test images. The ledger lets Workbench see the
real pattern behind optimistic results: train, look at the test score, change a setting, train again,
look again. A use whose config or weights differ from the previous use of the same test set is allowed
but warned about, and the report states how many times the test set was used.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.config import ProjectConfig
from workbench.core.runs import read_json, write_json

LEDGER_NAME = "test_set_uses.jsonl"


@dataclass(frozen=True)
class RecordedUse:
    """What recording one use of the test set found."""

    uses: int  # uses of the test set by this run, this one included
    project_uses: int  # uses of the same test images by any run in this runs folder
    changed: bool  # config or weights differ from the previous use of these test images
    warning: str
    record: dict[str, Any] = field(default_factory=dict)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def config_fingerprint(config: ProjectConfig) -> str:
    """Hash of every setting except where runs are stored (moving the runs folder is not a settings change)."""
    data = config.model_dump(mode="json")
    data.pop("runs_dir", None)
    return sha256_bytes(json.dumps(data, sort_keys=True).encode())


def fingerprint_test_images(manifest: Path) -> str:
    """Hash of the sorted (path, label) pairs of the manifest's test rows: the identity of the test images."""
    try:
        with Path(manifest).open(encoding="utf-8", newline="") as handle:
            rows = sorted(f"{r['path']}\t{r['label']}" for r in csv.DictReader(handle) if r.get("split") == "test")
    except (OSError, KeyError):
        return ""
    return sha256_bytes("\n".join(rows).encode())


def read_ledger(runs_dir: Path) -> list[dict[str, Any]]:
    path = Path(runs_dir) / LEDGER_NAME
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue  # a torn line from a crash must not hide the others
    return entries


def _append_ledger(runs_dir: Path, entry: dict[str, Any]) -> None:
    path = Path(runs_dir) / LEDGER_NAME
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, sort_keys=True) + "\n")


def record_test_use(run_dir: Path, config: ProjectConfig, checkpoint: Path, *, what: str = "metrics",
                    summary: dict[str, Any] | None = None, settings: dict[str, Any] | None = None,
                    checkpoint_epoch: int = 0) -> RecordedUse:
    """Record one use of `run_dir`'s test set and say whether it deserves a warning."""
    run_dir = Path(run_dir)
    status = read_json(run_dir / "run.json", {}) or {}
    previous_run_uses = list(status.get("test_evaluations", []))
    test_sha = fingerprint_test_images(run_dir / "split.csv")
    ledger = [e for e in read_ledger(run_dir.parent) if test_sha and e.get("test_set_sha256") == test_sha]
    record = {
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
        "what": what,
        "run_id": run_dir.name,
        "checkpoint_epoch": checkpoint_epoch,
        "config_sha256": config_fingerprint(config),
        "checkpoint_sha256": sha256_file(checkpoint) if Path(checkpoint).exists() else "",
        "test_set_sha256": test_sha,
        "settings": settings or {},
        **(summary or {}),
    }
    earlier = ledger[-1] if ledger else (previous_run_uses[-1] if previous_run_uses else None)
    changed = bool(earlier) and any(
        earlier.get(k) and earlier.get(k) != record[k] for k in ("config_sha256", "checkpoint_sha256")
    )
    uses = len(previous_run_uses) + 1
    project_uses = max(len(ledger), len(previous_run_uses)) + 1
    warning = ""
    if changed and earlier is not None:
        where = "this run" if earlier.get("run_id") == run_dir.name else f"run {earlier.get('run_id', '?')}"
        warning = (
            f"The settings or weights changed since these test images were last used ({where}, {earlier.get('time', '?')}). "
            f"This is use {project_uses} of the test set. A test score obtained after changes made with knowledge of "
            "earlier test scores is optimistic: report every use, or hold out a fresh test set."
        )
    elif project_uses > 1:
        warning = (
            f"The test set has now been used {project_uses} times. Choices made after looking at test results make "
            "them optimistic; report this count."
        )
    write_json(run_dir / "run.json", {**status, "test_evaluations": [*previous_run_uses, record]})
    if test_sha:
        _append_ledger(run_dir.parent, record)
    return RecordedUse(uses, project_uses, changed, warning, record)


def summarize_test_uses(run_dir: Path) -> dict[str, Any]:
    """How often the run's test set was used, by this run and by every run of the same runs folder."""
    run_dir = Path(run_dir)
    status = read_json(run_dir / "run.json", {}) or {}
    own = list(status.get("test_evaluations", []))
    test_sha = fingerprint_test_images(run_dir / "split.csv")
    ledger = [e for e in read_ledger(run_dir.parent) if test_sha and e.get("test_set_sha256") == test_sha]
    configs = {e.get("config_sha256") for e in ledger if e.get("config_sha256")}
    return {
        "run_uses": len(own),
        "project_uses": max(len(ledger), len(own)),
        "runs_using_test_set": sorted({e.get("run_id", "") for e in ledger} | ({run_dir.name} if own else set())),
        "distinct_configs": len(configs),
        "history": own,
        "project_history": ledger,
        "test_set_sha256": test_sha,
    }
