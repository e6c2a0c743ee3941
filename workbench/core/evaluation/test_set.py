"""The identity of a run's test set: its files' content hashes and labels, recorded when the run is made.

A test set is the same test set when the same images (by content, wherever they lie) carry the same labels.
`write_test_files` records each test file's SHA-256 in the run folder (`test_files.json`) when the run
is made; `verify_test_files` checks before every evaluation that each file is still there and unchanged,
and gives the content key of what is there now, so the ledger never counts a shrunk or edited test set
as the one that was locked.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.run_folder import RunFolder
from workbench.core.runs import read_json, write_json

TEST_FILES_NAME = "test_files.json"
SHOWN = 5  # files named in a message; the rest are counted


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_key(files: list[dict[str, Any]]) -> str:
    """Hash over the sorted (content hash, label) pairs: independent of where the images lie or their order."""
    pairs = sorted(f"{f['sha256']}\t{f['label']}" for f in files if f.get("sha256"))
    return hashlib.sha256("\n".join(pairs).encode("utf-8")).hexdigest() if pairs else ""


def test_rows(manifest: Path) -> list[tuple[str, str]]:
    """(path, label) of the manifest's test rows; empty when the manifest cannot be read."""
    try:
        with Path(manifest).open(encoding="utf-8", newline="") as handle:
            return [(r["path"], r["label"]) for r in csv.DictReader(handle) if r.get("split") == "test"]
    except (OSError, KeyError, UnicodeDecodeError, csv.Error):
        return []


def _hash_rows(rows: list[tuple[str, str]]) -> tuple[list[dict[str, Any]], list[str]]:
    """([{path, label, sha256, size}] of the files present, [paths missing])."""
    files, missing = [], []
    for path, label in rows:
        try:
            files.append({"path": path, "label": label, "sha256": sha256_file(Path(path)),
                          "size": Path(path).stat().st_size})
        except OSError:
            missing.append(path)
    return files, missing


def write_test_files(run_dir: Path) -> dict[str, Any]:
    """Record the content hash of every test file of the run's split.csv (when the run is made)."""
    files, missing = _hash_rows(test_rows(RunFolder(run_dir).split))
    record = {"files": files, "missing_when_recorded": missing, "content_sha256": content_key(files)}
    write_json(Path(run_dir) / TEST_FILES_NAME, record)
    return record


@dataclass(frozen=True)
class TestSetCheck:
    """What is left of a run's test set: the files missing or changed since the run was made."""

    total: int  # test rows in split.csv
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    key: str = ""  # content key of the test files as they are now
    locked_key: str = ""  # content key recorded when the run was made

    @property
    def complete(self) -> bool:
        return self.total > 0 and not self.missing and not self.changed

    @property
    def usable(self) -> int:
        return self.total - len(self.missing)

    def message(self, run_name: str) -> str:
        """A plain account of what is wrong, and what to do about it."""
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} of {self.total} test image(s) are missing ({_names(self.missing)})")
        if self.changed:
            parts.append(f"{len(self.changed)} test image(s) changed (content or label) since the run was made "
                         f"({_names(self.changed)})")
        return (f"The locked test set of run {run_name} is not what it was: {'; '.join(parts)}. A score on what is "
                "left is not comparable with the run's test set. Restore the files (same content, same place), or "
                "evaluate anyway with --allow-partial (the result is then marked partial and counted as a "
                "different test set).")

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "missing": len(self.missing), "changed": len(self.changed),
                "missing_files": self.missing[:50], "changed_files": self.changed[:50],
                "content_sha256": self.key, "locked_content_sha256": self.locked_key}


def _names(paths: list[str]) -> str:
    shown = ", ".join(Path(p).name for p in paths[:SHOWN])
    return shown + (f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else "")


def verify_test_files(run_dir: Path) -> TestSetCheck:
    """Check each test file against the hashes recorded with the run (recorded now if the run predates them)."""
    run_dir = Path(run_dir)
    rows = test_rows(RunFolder(run_dir).split)
    recorded = read_json(run_dir / TEST_FILES_NAME, None)
    files, missing = _hash_rows(rows)
    if not isinstance(recorded, dict) or not isinstance(recorded.get("files"), list):
        # A run made before test files were hashed: lock them at their first use, so later changes show.
        recorded = {"files": files, "missing_when_recorded": missing, "content_sha256": content_key(files)}
        if rows:
            write_json(run_dir / TEST_FILES_NAME, recorded)
    locked = {f["path"]: (f.get("sha256"), f.get("label")) for f in recorded["files"] if isinstance(f, dict)}
    # A file whose content or label differs from the recorded one is a changed test image.
    changed = [f["path"] for f in files if f["path"] in locked and locked[f["path"]] != (f["sha256"], f["label"])]
    return TestSetCheck(len(rows), missing, changed, content_key(files), str(recorded.get("content_sha256", "")))


def locked_key(run_dir: Path) -> str:
    """The content key of the run's test set as recorded (without reading the images), or ""."""
    recorded = read_json(Path(run_dir) / TEST_FILES_NAME, None)
    return str(recorded.get("content_sha256", "")) if isinstance(recorded, dict) else ""
