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


class RunStore:
    """The runs of one runs folder. Every method opens its own connection, so threads may share a store."""

    def __init__(self, runs_dir: str | Path) -> None:
        self.runs_dir = Path(runs_dir)
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            probe = self.runs_dir / f".write-test-{secrets.token_hex(4)}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            raise PermissionError(
                error.errno or 13, f"the runs folder is not writable ({error.strerror or error})", str(self.runs_dir)
            ) from None
        self.index_path = self.runs_dir / INDEX_NAME
        with closing(self._connect()) as db, db:
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.index_path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def create(self, config: ProjectConfig, run_id: str | None = None) -> tuple[str, Path]:
        run_id = run_id or new_run_id()
        run_dir = self.runs_dir / run_id
        run_dir.mkdir(parents=True, exist_ok=False)
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT INTO runs (id, project, dataset, model, strategy, status, started, run_dir) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, config.name, config.data.source, config.model.architecture, config.strategy.name,
                 "running", time.time(), str(run_dir)),
            )
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
        with closing(self._connect()) as db, db:
            db.execute(f"UPDATE runs SET {assignments} WHERE id = ?", (*fields.values(), run_id))

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
        query = "SELECT id, project, dataset, model, strategy, status, best_epoch, best_metrics, started, ended, " \
                "run_dir FROM runs" + (f" WHERE {where}" if where else "") + " ORDER BY started DESC"
        with closing(self._connect()) as db:
            rows = db.execute(query, params).fetchall()
        return [RunRecord(*row[:7], json.loads(row[7]) if row[7] else {}, *row[8:]) for row in rows]

    def delete(self, run_id: str) -> None:
        record = self.get(run_id)
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        if record is not None and Path(record.run_dir).parent == self.runs_dir:
            shutil.rmtree(record.run_dir, ignore_errors=True)


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
