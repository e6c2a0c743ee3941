"""Data-check results belong to the dataset: keyed by its content and the settings the checks read, stored once.

The key covers every file (path, size, content hash), its label and split, the data and preprocessing
settings (split seed, image size, resize mode, …), the few other settings a data check reads, and the
code of the checks themselves, so a changed file, setting or check gives a new key and a fresh check. The
results (findings and their evidence files) live in the per-user cache folder, or under
`$WORKBENCH_CACHE_DIR` where that is set (tests do), and are reused by every run, the Data pane and
`workbench doctor`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.diagnostics.findings import Finding

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig
    from workbench.core.data.pipeline import PreparedData

log = logging.getLogger(__name__)

STORE_VERSION = 1
# Settings a data check reads besides the data. A check that starts reading another setting adds it here.
DEPENDS_ON = ("data", "preprocessing", "training.class_weighting", "training.monitor", "diagnostics.label_check")
_hashes: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> content hash, for this process
_hash_lock = threading.Lock()
_code: list[str] = []


@dataclass(frozen=True)
class StoredChecks:
    key: str
    findings: list[Finding]
    reused: bool  # True: read from the store; False: computed now
    created: float  # when the results were computed (time.time())
    folder: Path | None  # the entry's folder (evidence lives in folder/"evidence")


def store_root() -> Path:
    """Where data-check results are kept: $WORKBENCH_CACHE_DIR/data-checks, or the per-user cache folder."""
    from workbench.core.user_cache import cache_root

    return cache_root() / "data-checks"


def _stamped_hash(path: str, stored: dict[str, list] | None) -> tuple[int, int, str]:
    """(size, mtime_ns, content hash) of a file; the hash (blake2b) is "missing" or "unreadable" where the file cannot
    be read. Hashes are remembered by path, size and modification time: in this process, and in `stored`
    ({path: [size, mtime_ns, hash]}, what an earlier process hashed; see `stored_hashes`)."""
    try:
        stat = os.stat(path)
    except OSError:
        return -1, -1, "missing"
    memo = (path, stat.st_size, stat.st_mtime_ns)
    with _hash_lock:
        known = _hashes.get(memo)
    if known is None and stored is not None:
        entry = stored.get(path)
        if isinstance(entry, list) and len(entry) == 3 and entry[:2] == [stat.st_size, stat.st_mtime_ns]:
            known = str(entry[2])
            with _hash_lock:
                _hashes[memo] = known
    if known is not None:
        return stat.st_size, stat.st_mtime_ns, known
    digest = hashlib.blake2b(digest_size=16)
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return stat.st_size, stat.st_mtime_ns, "unreadable"
    value = f"{stat.st_size}:{digest.hexdigest()}"
    with _hash_lock:
        _hashes[memo] = value
    return stat.st_size, stat.st_mtime_ns, value


def _code_fingerprint() -> str:
    """A hash of the diagnostics' source and the registered data checks: a changed check invalidates results."""
    if not _code:
        from workbench import __version__
        from workbench.core.diagnostics.registry import diagnostics_of_kind

        digest = hashlib.sha256(f"{STORE_VERSION}|{__version__}".encode())
        for source in sorted(Path(__file__).parent.glob("*.py")):
            digest.update(source.read_bytes())
        for entry in diagnostics_of_kind("data"):
            function = entry.function  # a "module:attribute" reference, or the function itself
            ref = function if isinstance(function, str) else \
                f"{getattr(function, '__module__', '')}:{getattr(function, '__qualname__', '')}"
            digest.update(f"{entry.name}|{ref}".encode())
        _code.append(digest.hexdigest())
    return _code[0]


def _settings(config: ProjectConfig) -> dict[str, Any]:
    raw = config.model_dump(mode="json")
    picked: dict[str, Any] = {}
    for dotted in DEPENDS_ON:
        node: Any = raw
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        picked[dotted] = node
    return picked


def _hashes_file(paths: list[str]) -> Path:
    """Where the content hashes of this list of files are kept between processes (store_root()/hashes/)."""
    listing = "\n".join(paths).encode("utf-8", "surrogateescape")
    return store_root() / "hashes" / f"{hashlib.sha256(listing).hexdigest()[:32]}.json"


def stored_hashes(paths: list[str]) -> dict[str, list]:
    """The content hashes an earlier process computed for these files ({path: [size, mtime_ns, hash]}; {} if none).
    A window's run then hashes nothing: the checks at data loading ran in a helper process, whose hashes reach
    the window's process only through this file (hashing 1,800 small files in the window's process held its GIL
    for tens of milliseconds)."""
    try:
        raw = json.loads(_hashes_file(paths).read_text(encoding="utf-8"))
        return raw if isinstance(raw, dict) else {}
    except (OSError, ValueError):
        return {}


def _store_hashes(paths: list[str], hashes: dict[str, list]) -> None:
    from workbench.core.io import atomic_write_json

    target = _hashes_file(paths)
    try:
        atomic_write_json(target, hashes, indent=None)
    except OSError:  # the next process hashes the files again
        log.info("the files' content hashes could not be kept in %s", target.parent, exc_info=True)


def data_checks_key(prepared: PreparedData, config: ProjectConfig,
                    should_stop: Callable[[], bool] | None = None) -> str:
    """The key of the data checks of `prepared` under `config` (hashes every file's content once: in this process,
    and for later processes in the store's `hashes/`)."""
    digest = hashlib.sha256(_code_fingerprint().encode())
    digest.update(json.dumps(_settings(config), sort_keys=True, default=str).encode())
    digest.update(json.dumps(list(prepared.class_names)).encode())
    paths = [sample.path for sample in prepared.samples]
    stored = stored_hashes(paths)
    now: dict[str, list] = {}
    for i, (sample, label, split) in enumerate(zip(prepared.samples, prepared.labels.tolist(), prepared.splits,
                                                   strict=True)):
        if should_stop is not None and i % 256 == 0 and should_stop():
            raise InterruptedError("data checks cancelled")
        size, mtime, content = _stamped_hash(sample.path, stored)
        digest.update(f"{sample.path}|{content}|{label}|{split}\n".encode())
        if size >= 0 and content != "unreadable":
            now[sample.path] = [size, mtime, content]
    if now != stored:
        _store_hashes(paths, now)
    digest.update(json.dumps([[s.path, s.reason] for s in prepared.skipped]).encode())  # the unreadable-files check
    return digest.hexdigest()[:32]


def _relocate(value: Any, old: str, new: str) -> Any:
    """Evidence with every path under `old` moved under `new`."""
    if isinstance(value, str):
        inside = bool(old) and (value == old or value.startswith(old.rstrip(os.sep) + os.sep))
        return new + value[len(old):] if inside else value
    if isinstance(value, dict):
        return {k: _relocate(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_relocate(v, old, new) for v in value]
    return value


def _finding_from(row: dict[str, Any]) -> Finding:
    return Finding(row["code"], row["severity"], row["title"], row["explanation"], row.get("fix", ""),
                   dict(row.get("evidence", {})), row.get("pane", "data"), dict(row.get("patch", {})),
                   row.get("paper_item", ""))


def _row(finding: Finding) -> dict[str, Any]:
    from workbench.core.diagnostics.findings import plain

    return {"code": finding.code, "severity": finding.severity, "title": finding.title,
            "explanation": finding.explanation, "fix": finding.fix, "evidence": plain(dict(finding.evidence)),
            "pane": finding.pane, "patch": plain(dict(finding.patch)), "paper_item": finding.paper_item}


def load_stored(key: str, root: Path | None = None) -> StoredChecks | None:
    """The stored results of `key`, or None where there are none (or they cannot be read)."""
    folder = (root or store_root()) / key
    try:
        raw = json.loads((folder / "findings.json").read_text(encoding="utf-8"))
        findings = [_finding_from(row) for row in raw["findings"]]
        return StoredChecks(key, findings, True, float(raw.get("created", 0.0)), folder)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_stored(key: str, findings: list[Finding], evidence_dir: Path, root: Path | None = None) -> StoredChecks:
    """Store `findings` (and the evidence files they name in `evidence_dir`) under `key`, atomically."""
    root = root or store_root()
    folder = root / key
    created = time.time()
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
        if evidence_dir.is_dir():
            shutil.copytree(evidence_dir, staging / "evidence")
        rows = [_row(f) for f in findings]
        rows = _relocate(rows, str(evidence_dir), str(folder / "evidence"))
        (staging / "findings.json").write_text(json.dumps({"created": created, "key": key, "findings": rows},
                                                          indent=1), encoding="utf-8")
        try:
            os.replace(staging, folder)
        except OSError:  # another process stored the same key first: keep theirs
            shutil.rmtree(staging, ignore_errors=True)
    except OSError:
        log.warning("data-check results could not be stored in %s", root, exc_info=True)
        return StoredChecks(key, findings, False, created, None)
    stored = load_stored(key, root)
    return StoredChecks(key, stored.findings if stored else findings, False, created, folder if stored else None)


def copy_evidence(stored: StoredChecks, dest: Path | None) -> list[Finding]:
    """The stored findings with their evidence copied into `dest` (a run's diagnostics folder) and paths moved there."""
    if dest is None or stored.folder is None or not (stored.folder / "evidence").is_dir():
        return list(stored.findings)
    return _move_evidence(list(stored.findings), stored.folder / "evidence", dest)  # on failure the stored paths work


def _move_evidence(findings: list[Finding], source: Path, dest: Path) -> list[Finding]:
    try:
        shutil.copytree(source, dest, dirs_exist_ok=True)
    except OSError:
        return findings
    return [_finding_from(_relocate(_row(f), str(source), str(dest))) for f in findings]


def checked_data(
    prepared: PreparedData,
    config: ProjectConfig,
    *,
    evidence_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_finding: Callable[[Finding], None] | None = None,
    root: Path | None = None,
) -> StoredChecks:
    """The data checks of `prepared`: from the store where this dataset and these settings were checked before,
    else computed now (and stored). Evidence lands in `evidence_dir` either way, when given."""
    from workbench.core.diagnostics.data_checks import run_data_checks

    key = data_checks_key(prepared, config, should_stop)
    stored = load_stored(key, root)
    if stored is not None:
        findings = copy_evidence(stored, Path(evidence_dir) if evidence_dir is not None else None)
        if progress is not None:
            progress(1, 1)
        for finding in findings:
            if on_finding is not None:
                on_finding(finding)
        return StoredChecks(key, findings, True, stored.created, stored.folder)
    with tempfile.TemporaryDirectory(prefix="workbench-checks-") as scratch:
        findings = run_data_checks(prepared, config, evidence_dir=scratch, progress=progress,
                                   should_stop=should_stop, on_finding=None)
        saved = save_stored(key, findings, Path(scratch), root)
        dest = Path(evidence_dir) if evidence_dir is not None else None
        if saved.folder is not None:
            findings = copy_evidence(saved, dest)
        elif dest is not None:  # nothing stored: the evidence still reaches the caller's folder
            findings = _move_evidence(findings, Path(scratch), dest)
    for finding in findings:
        if on_finding is not None:
            on_finding(finding)
    return StoredChecks(key, findings, False, saved.created, saved.folder)
