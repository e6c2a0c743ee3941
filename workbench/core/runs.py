"""Run folders, plus an SQLite index (WAL mode) of every run, so runs can be listed and compared."""

from __future__ import annotations

import json
import secrets
import shutil
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.config import ProjectConfig
from workbench.core.io import atomic_write_bytes
from workbench.core.run_folders import record_fields, run_folders, scan_run_folders

INDEX_NAME = "runs.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    dataset TEXT NOT NULL,
    model TEXT NOT NULL,
    strategy TEXT NOT NULL,
    status TEXT NOT NULL,
    best_epoch INTEGER,
    best_metrics TEXT,
    started REAL NOT NULL,
    ended REAL,
    run_dir TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class RunRecord:
    id: str
    project: str
    dataset: str
    model: str
    strategy: str
    status: str
    best_epoch: int | None
    best_metrics: dict[str, Any]
    started: float
    ended: float | None
    run_dir: str


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


COLUMNS = ("id", "project", "dataset", "model", "strategy", "status", "best_epoch", "best_metrics", "started",
           "ended", "run_dir")
LOCK_TIMEOUT_S = 10.0
LOCKED_BACKOFF_S = 60.0


class RunIndexError(OSError):
    """The run index cannot be used (locked by another program); the message says what to do."""


class RunStore:
    """The runs of one runs folder. Every method opens its own connection, so threads may share a store.

    The folders are the truth: a missing or damaged index is rebuilt from them, a run folder the index does
    not know is added when runs are listed, and a locked index never stops a run (it is brought up to date
    from the folders later).
    """

    def __init__(self, runs_dir: str | Path, writable: bool = True) -> None:
        self.runs_dir = Path(runs_dir)
        self.index_path = self.runs_dir / INDEX_NAME
        self.notes: list[str] = []  # what was repaired, for the caller to show
        self.read_only = not writable
        self._locked_until = 0.0  # after a lock timeout, skip index writes a while rather than wait at every epoch
        if writable:
            try:
                self.runs_dir.mkdir(parents=True, exist_ok=True)
                probe = self.runs_dir / f".write-test-{secrets.token_hex(4)}"
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as error:
                raise PermissionError(
                    error.errno or 13, f"the runs folder is not writable ({error.strerror or error}); choose a "
                    "runs folder you can write to", str(self.runs_dir)) from None
            self._open_or_rebuild()

    # --- the index file ---------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.index_path, timeout=LOCK_TIMEOUT_S)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def _open_or_rebuild(self) -> None:
        existed = self.index_path.exists()
        try:
            with closing(self._connect()) as db, db:
                db.execute(_SCHEMA)
                if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                    raise sqlite3.DatabaseError("quick_check failed")
                db.execute("SELECT " + ", ".join(COLUMNS) + " FROM runs LIMIT 1").fetchall()
        except sqlite3.OperationalError as error:
            if "locked" in str(error) or "busy" in str(error):
                self.notes.append(f"the run index {self.index_path} is locked by another program; runs are still "
                                  "saved in their folders, and the index catches up later")
                return
            self._set_aside(error)
        except sqlite3.DatabaseError as error:
            self._set_aside(error)
        else:
            if existed:
                return
            self.notes.append(f"the run index {self.index_path} was missing and was rebuilt from the run folders")
        self._sync_from_folders()

    def _set_aside(self, error: Exception) -> None:
        """Move a damaged index out of the way (kept for inspection) and start a fresh one."""
        damaged = self.index_path.with_name(f"{INDEX_NAME}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(str(self.index_path) + suffix)
            if part.exists():
                part.replace(Path(str(damaged) + suffix))
        self.notes.append(f"the run index {self.index_path} was damaged ({error}); it was moved to {damaged.name} "
                          "and rebuilt from the run folders")
        with closing(self._connect()) as db, db:
            db.execute(_SCHEMA)

    def _sync_from_folders(self) -> int:
        """Add every run folder the index lacks, and settle 'running' rows whose folder records an end."""
        if self.read_only:
            return 0
        try:
            with closing(self._connect()) as db, db:
                known = dict(db.execute("SELECT id, status FROM runs").fetchall())
                added = 0
                for folder in run_folders(self.runs_dir):
                    if folder.name in known and known[folder.name] != "running":
                        continue  # only unknown runs and runs still marked running need their files read
                    row = record_fields(folder)
                    if row["id"] not in known:
                        db.execute(f"INSERT INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                                   tuple(row[c] for c in COLUMNS))
                        added += 1
                    elif row["recorded"]:
                        db.execute("UPDATE runs SET status = ?, best_epoch = ?, best_metrics = ?, ended = ? "
                                   "WHERE id = ?", (row["status"], row["best_epoch"], row["best_metrics"],
                                                    row["ended"], row["id"]))
                return added
        except sqlite3.Error:
            return 0  # the folders stay the truth; a later call tries again

    # --- runs -------------------------------------------------------------------------------------

    def create(self, config: ProjectConfig, run_id: str | None = None) -> tuple[str, Path]:
        run_id = run_id or new_run_id()
        run_dir = self.runs_dir / run_id
        run_dir.mkdir(parents=True, exist_ok=False)
        try:
            with closing(self._connect()) as db, db:
                db.execute(
                    "INSERT INTO runs (id, project, dataset, model, strategy, status, started, run_dir) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, config.name, config.data.source, config.model.architecture, config.strategy.name,
                     "running", time.time(), str(run_dir)),
                )
        except sqlite3.Error as error:  # the folder is the record; the index learns of it when runs are listed
            self._locked_until = time.monotonic() + LOCKED_BACKOFF_S
            self.notes.append(f"the run index could not record run {run_id} ({error}); it is added later from "
                              "its folder")
        return run_id, run_dir

    def update(self, run_id: str, *, status: str | None = None, best_epoch: int | None = None,
               best_metrics: dict[str, Any] | None = None, ended: bool = False) -> None:
        fields: dict[str, Any] = {}
        if status is not None:
            fields["status"] = status
        if best_epoch is not None:
            fields["best_epoch"] = best_epoch
        if best_metrics is not None:
            fields["best_metrics"] = json.dumps(best_metrics)
        if ended:
            fields["ended"] = time.time()
        if not fields:
            return
        assignments = ", ".join(f"{k} = ?" for k in fields)
        if time.monotonic() < self._locked_until:
            return  # run.json holds the same facts; the index catches up when runs are next listed
        try:
            with closing(self._connect()) as db, db:
                db.execute(f"UPDATE runs SET {assignments} WHERE id = ?", (*fields.values(), run_id))
        except sqlite3.Error as error:  # never let the index stop a run: run.json holds the same facts
            self._locked_until = time.monotonic() + LOCKED_BACKOFF_S
            self.notes.append(f"the run index could not be updated for run {run_id} ({error})")

    def add_existing(self, record: RunRecord, run_dir: Path) -> None:
        """Index a run folder moved here from another runs folder, keeping its record (times, status, metrics)."""
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT OR REPLACE INTO runs (id, project, dataset, model, strategy, status, best_epoch, best_metrics, "
                "started, ended, run_dir) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.id, record.project, record.dataset, record.model, record.strategy, record.status,
                 record.best_epoch, json.dumps(record.best_metrics), record.started, record.ended, str(run_dir)),
            )

    def forget(self, run_id: str) -> None:
        """Drop a run from the index without touching its folder (it was moved elsewhere)."""
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    def get(self, run_id: str) -> RunRecord | None:
        runs = self.list_runs(where="id = ?", params=(run_id,))
        return runs[0] if runs else None

    def list_runs(self, where: str = "", params: tuple = ()) -> list[RunRecord]:
        """The runs, newest first. From the folders alone when the index cannot be read or written."""
        if not self.read_only:
            self._sync_from_folders()
            query = f"SELECT {', '.join(COLUMNS)} FROM runs" + (f" WHERE {where}" if where else "") + \
                " ORDER BY started DESC"
            try:
                with closing(self._connect()) as db:
                    rows = db.execute(query, params).fetchall()
                return [_record(row) for row in rows]
            except sqlite3.Error as error:
                self.notes.append(f"the run index cannot be read ({error}); runs were listed from their folders")
        rows = [tuple(r[c] for c in COLUMNS) for r in scan_run_folders(self.runs_dir)]
        if where == "id = ?":
            rows = [r for r in rows if r[0] == params[0]]
        return sorted((_record(r) for r in rows), key=lambda r: -r.started)

    def delete(self, run_id: str) -> None:
        record = self.get(run_id)
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        if record is not None and Path(record.run_dir).parent == self.runs_dir:
            shutil.rmtree(record.run_dir, ignore_errors=True)


def _record(row: tuple) -> RunRecord:
    try:
        metrics = json.loads(row[7]) if row[7] else {}
    except ValueError:
        metrics = {}
    return RunRecord(*row[:7], metrics if isinstance(metrics, dict) else {}, *row[8:])


def open_runs_folder(runs_dir: str | Path) -> RunStore:
    """A store for listing runs: read-only (listed from the folders) where the folder cannot be written."""
    try:
        return RunStore(runs_dir)
    except PermissionError:
        return RunStore(runs_dir, writable=False)


def store_for_run(run_dir: Path) -> RunStore:
    return RunStore(run_dir.parent)


def write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, json.dumps(data, indent=2, default=str).encode("utf-8"))


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file as a dict; {} when it is missing or unreadable."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default
