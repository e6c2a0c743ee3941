"""Size and modification time of every image when a run starts, so a resume can say what changed since.

Content hashes would be surer but cost a full read of the dataset; a stat per file is what the decoded
cache already pays, and catches edits, replacements and deletions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from workbench.core.io import atomic_write_bytes

STAMPS_NAME = "file_stamps.json"


def _stamp(path: str) -> list[int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns]


def write_stamps(run_dir: Path, paths: Sequence[str]) -> None:
    atomic_write_bytes(run_dir / STAMPS_NAME, json.dumps({p: _stamp(p) for p in paths}).encode("utf-8"))


def changed_since_start(run_dir: Path, paths: Sequence[str]) -> str:
    """A warning naming how many images changed or vanished since the run started ('' when none, or unknown)."""
    try:
        before = json.loads((run_dir / STAMPS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    if not isinstance(before, dict):
        return ""
    changed, missing = [], []
    for path in paths:
        old, now = before.get(path), _stamp(path)
        if now is None:
            missing.append(path)
        elif old is not None and list(old) != now:
            changed.append(path)
    if not changed and not missing:
        return ""
    parts = []
    if changed:
        parts.append(f"{len(changed)} image(s) were changed (first: {changed[0]})")
    if missing:
        parts.append(f"{len(missing)} are gone (first: {missing[0]})")
    return (f"since this run started, {' and '.join(parts)}. The run continues with the files as they are now, "
            "so its epochs rest on two versions of the data; start a new run for results on one version")
