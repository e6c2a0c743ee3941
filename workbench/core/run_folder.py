"""The layout of one run folder: its file names, reading its small files, and the one "resumable" rule.

Every run folder holds the files below; code that reads or writes one asks a `RunFolder` for the path
rather than spelling the name, so the layout is written down once. The module is torch-free (the GUI's
Runs view and Train pane decide "resumable" with it) and writes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.core.config import ConfigError, ProjectConfig, load_config

CONFIG = "config.toml"
SPLIT = "split.csv"
NORM_STATS = "norm_stats.json"
CLASSES = "classes.json"
DATA_REPORT = "data_report.json"
METRICS = "metrics.jsonl"
STATUS = "run.json"
LOG = "log.txt"
FINDINGS = "findings.json"
CHECKPOINTS = "checkpoints"
LAST = "last.pt"
BEST = "best.pt"

# A run can be continued when it ended before its last epoch: stopped by the user, failed after an epoch
# (the last good checkpoint is kept), or still "running" in the index with no process left, which an index
# rebuilt from the folders calls "interrupted".
RESUMABLE_STATUSES = ("stopped", "failed", "running", "interrupted")


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


class _Member:
    """A read-only, typed attribute: the path of `parts` inside the run folder (relative, read off the class)."""

    def __init__(self, *parts: str) -> None:
        self.parts = parts

    def __get__(self, folder: RunFolder | None, owner: type | None = None) -> Path:
        return Path(*self.parts) if folder is None else Path(folder.path, *self.parts)

    def __set__(self, folder: RunFolder, value: object) -> None:
        raise AttributeError("the run-folder layout is fixed")


class RunFolder:
    """One run folder on disk; the paths exist or not, nothing is created."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # --- the layout ------------------------------------------------------------------------------

    # Each is the path of one file of the layout (written once here, so no caller spells a name).
    config = _Member(CONFIG)
    split = _Member(SPLIT)
    norm_stats = _Member(NORM_STATS)
    classes = _Member(CLASSES)
    data_report = _Member(DATA_REPORT)
    metrics = _Member(METRICS)
    status_file = _Member(STATUS)
    log = _Member(LOG)
    findings = _Member(FINDINGS)
    checkpoints = _Member(CHECKPOINTS)
    last_checkpoint = _Member(CHECKPOINTS, LAST)
    best_checkpoint = _Member(CHECKPOINTS, BEST)

    def checkpoint(self, name: str) -> Path:
        """`checkpoints/<name>.pt`; name is "last", "best" or a strategy's own (e.g. "pretrain")."""
        return self.path / CHECKPOINTS / (name if name.endswith(".pt") else f"{name}.pt")

    # --- reading ---------------------------------------------------------------------------------

    def is_run(self) -> bool:
        """A run folder has its config; a folder without one is something else (or a run that never began)."""
        return self.config.is_file()

    def has_weights(self) -> bool:
        """A trained model to load: best.pt, or last.pt when no epoch was ever the best yet."""
        return self.best_checkpoint.is_file() or self.last_checkpoint.is_file()

    def load_config(self) -> ProjectConfig:
        """The config the run trained with; ConfigError naming the folder when it has none."""
        if not self.config.exists():
            raise ConfigError(f"{self.path} is not a Workbench run folder (it has no {CONFIG})")
        return load_config(self.config)

    def read_status(self) -> dict[str, Any]:
        """run.json as a dict ({} when missing or unreadable): status, best epoch, history, test evaluations."""
        status = _read_json(self.status_file, {})
        return status if isinstance(status, dict) else {}

    def read_classes(self) -> list[str]:
        """The class names in label order ([] before data preparation wrote them)."""
        names = _read_json(self.classes, [])
        return [str(name) for name in names] if isinstance(names, list) else []

    # --- the one resumable rule ------------------------------------------------------------------

    def resumable(self, status: str) -> bool:
        """True when Resume can continue this run: it ended early and its last checkpoint is on disk.

        `status` is the run's status in the runs index (run.json has none while a run trains). A completed
        or early-stopped run is finished, and best.pt alone is not enough: the engine continues from last.pt
        only, and would otherwise start the run over in the same folder.
        """
        return status in RESUMABLE_STATUSES and self.last_checkpoint.is_file()
