"""The locked test set: every evaluation on it is an explicit, recorded and counted act.

Each use is appended to the run's `run.json` (`test_evaluations`) and to one ledger per user (in the
user's data folder, or the file named by WORKBENCH_TEST_LEDGER), keyed by the test set's content
(`test_set.content_key`: the files' content hashes and labels). So every look at the same test images
counts, by any run, in any project and any runs folder, including runs deleted since. A use whose config
or weights differ from the previous use of the same test set is allowed but warned about, and the report
states how many times, when and by which runs the test set was used.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.config import ProjectConfig
from workbench.core.evaluation.test_set import locked_key, sha256_file
from workbench.core.run_folder import RunFolder
from workbench.core.runs import write_json

LEDGER_ENV = "WORKBENCH_TEST_LEDGER"
LEDGER_FILE = "test_set_ledger.jsonl"
__all__ = ["RecordedUse", "config_fingerprint", "ledger_path", "read_ledger", "record_move", "record_test_use",
           "sha256_file", "summarize_test_uses", "uses_of"]


@dataclass(frozen=True)
class RecordedUse:
    """What recording one use of the test set found."""

    uses: int  # uses of the test set by this run, this one included
    project_uses: int  # uses of the same test images by any run of this user, this one included
    changed: bool  # config or weights differ from the previous use of these test images
    warning: str
    record: dict[str, Any] = field(default_factory=dict)


def ledger_path() -> Path:
    """The user's ledger: WORKBENCH_TEST_LEDGER if set (tests, shared machines), else the user data folder."""
    override = os.environ.get(LEDGER_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("workbench", appauthor=False)) / LEDGER_FILE


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def config_fingerprint(config: ProjectConfig) -> str:
    """Hash of every setting except where runs are stored (moving the runs folder is not a settings change)."""
    data = config.model_dump(mode="json")
    data.pop("runs_dir", None)
    return sha256_bytes(json.dumps(data, sort_keys=True).encode())


def read_ledger(path: Path | None = None) -> list[dict[str, Any]]:
    """Every recorded use of any test set, oldest first (the user's ledger unless `path` names another)."""
    path = Path(path) if path is not None else ledger_path()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    entries = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a torn line from a crash must not hide the others
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def uses_of(test_key: str, ledger: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The ledger's uses of the test set with content key `test_key`."""
    if not test_key:
        return []
    return [e for e in (read_ledger() if ledger is None else ledger) if e.get("test_set_sha256") == test_key]


def _append_ledger(entry: dict[str, Any]) -> None:
    path = ledger_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:  # one short line per write: appends do not interleave
        handle.write(json.dumps(entry, sort_keys=True, default=str) + "\n")


def record_test_use(run_dir: Path, config: ProjectConfig, checkpoint: Path, *, test_key: str, what: str = "metrics",
                    summary: dict[str, Any] | None = None, settings: dict[str, Any] | None = None,
                    checkpoint_epoch: int = 0, partial: dict[str, Any] | None = None) -> RecordedUse:
    """Record one use of the test set with content key `test_key` by `run_dir`, and say whether to warn."""
    run_dir = Path(run_dir)
    status = RunFolder(run_dir).read_status()
    previous_run_uses = [u for u in status.get("test_evaluations", []) if u.get("test_set_sha256") == test_key]
    ledger = uses_of(test_key)
    record = {
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
        "what": what,
        "run_id": run_dir.name,
        "run_dir": str(run_dir),
        "project": config.name,
        "dataset": config.data.source,
        "checkpoint_epoch": checkpoint_epoch,
        "config_sha256": config_fingerprint(config),
        "checkpoint_sha256": sha256_file(checkpoint) if Path(checkpoint).is_file() else "",
        "test_set_sha256": test_key,
        "partial": partial or None,
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
    write_json(RunFolder(run_dir).status_file, {**status, "test_evaluations": [*status.get("test_evaluations", []), record]})
    if test_key:
        _append_ledger(record)
    return RecordedUse(uses, project_uses, changed, warning, record)


def record_move(old_run_dir: Path, new_run_dir: Path) -> None:
    """Note in the ledger that a run folder moved, so its looks are not taken for those of a deleted run."""
    _append_ledger({"time": time.strftime("%Y-%m-%d %H:%M:%S"), "moved_from": str(old_run_dir),
                    "moved_to": str(new_run_dir)})


def _moves() -> dict[str, str]:
    moves = {}
    for entry in read_ledger():
        if entry.get("moved_from") and entry.get("moved_to"):
            moves[str(entry["moved_from"])] = str(entry["moved_to"])
    return moves


def _where_now(run_dir: str, moves: dict[str, str]) -> str:
    seen = set()
    while run_dir in moves and run_dir not in seen:  # a run may have moved more than once
        seen.add(run_dir)
        run_dir = moves[run_dir]
    return run_dir


def _run_test_key(run_dir: Path, own: list[dict[str, Any]]) -> str:
    """The content key of the run's locked test set: as recorded with the run, else as its first use saw it."""
    key = locked_key(run_dir)
    if key:
        return key
    complete = [u.get("test_set_sha256") for u in own if u.get("test_set_sha256") and not u.get("partial")]
    return str(complete[0]) if complete else ""


def summarize_test_uses(run_dir: Path) -> dict[str, Any]:
    """How often the run's test set was used: by this run, and by every run of this user on the same images."""
    run_dir = Path(run_dir)
    status = RunFolder(run_dir).read_status()
    everything = list(status.get("test_evaluations", []))
    test_sha = _run_test_key(run_dir, everything)
    own = [u for u in everything if not test_sha or u.get("test_set_sha256") == test_sha]
    moves = _moves()
    ledger = [{**e, "run_dir": _where_now(str(e.get("run_dir", "")), moves)} if e.get("run_dir") else e
              for e in uses_of(test_sha)]
    configs = {e.get("config_sha256") for e in ledger + own if e.get("config_sha256")}
    runs = {e.get("run_id", "") for e in ledger} | ({run_dir.name} if own else set())
    gone = sorted({str(e.get("run_id", "")) for e in ledger if e.get("run_dir") and not Path(e["run_dir"]).is_dir()})
    return {
        "run_uses": len(own),
        "project_uses": max(len(ledger), len(own)),
        "runs_using_test_set": sorted(runs),
        "deleted_runs": gone,
        "projects": sorted({str(e.get("project", "")) for e in ledger if e.get("project")}),
        "distinct_configs": len(configs),
        "history": own,
        "project_history": ledger,
        "other_test_sets": [u for u in everything if test_sha and u.get("test_set_sha256") != test_sha],
        "test_set_sha256": test_sha,
        "ledger": str(ledger_path()),
    }
