"""Automatic backups of the open project, so a crash loses nothing.

The backup is written to the application data folder (QStandardPaths.AppDataLocation) a moment after
every committed change and every 30 seconds while there are unsaved changes. A clean exit, or an
explicit save, removes it; finding one at start-up means the last session ended abnormally.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, QTimer

from workbench.core.config import ConfigError, ProjectConfig, load_config, save_config
from workbench.core.io import atomic_write_bytes
from workbench.qt.project_model import ProjectModel

AUTOSAVE_NAME = "autosave.toml"
META_NAME = "autosave.json"


def default_autosave_dir() -> Path:
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(location or Path.home() / ".workbench") / "autosave"


@dataclass(frozen=True)
class Recovery:
    config: ProjectConfig
    project_path: Path | None
    saved_at: str


class Autosaver(QObject):
    """Writes the project to the backup file when it changes and periodically while dirty."""

    def __init__(self, project: ProjectModel, directory: Path | None = None, interval_ms: int = 30_000,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.directory = Path(directory) if directory is not None else default_autosave_dir()
        self.path = self.directory / AUTOSAVE_NAME
        self.meta_path = self.directory / META_NAME
        self.last_error = ""
        self._periodic = QTimer(self)
        self._periodic.setInterval(interval_ms)
        self._periodic.timeout.connect(self._save_if_dirty)
        self._periodic.start()
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(300)
        self._soon.timeout.connect(self._save_if_dirty)
        project.changed.connect(lambda _key: self._soon.start())
        project.dirty_changed.connect(self._on_dirty_changed)

    def _on_dirty_changed(self, dirty: bool) -> None:
        if not dirty:
            self.clear()

    def _save_if_dirty(self) -> None:
        if self.project.dirty:
            self.save_now()

    def save_now(self) -> bool:
        """Write the backup now; returns False (and keeps the reason) if the disk refused."""
        try:
            save_config(self.project.config, self.path)
            meta = {"project_path": str(self.project.path or ""), "saved_at": time.strftime("%Y-%m-%d %H:%M:%S")}
            atomic_write_bytes(self.meta_path, json.dumps(meta).encode("utf-8"))
            self.last_error = ""
            return True
        except OSError as error:
            self.last_error = str(error)
            return False

    def clear(self) -> None:
        for path in (self.path, self.meta_path):
            path.unlink(missing_ok=True)

    def stop(self) -> None:
        self._periodic.stop()
        self._soon.stop()

    @staticmethod
    def find_recovery(directory: Path | None = None) -> Recovery | None:
        """The backup left by a session that did not exit cleanly, if any (and if it is readable)."""
        folder = Path(directory) if directory is not None else default_autosave_dir()
        path = folder / AUTOSAVE_NAME
        if not path.exists():
            return None
        try:
            config = load_config(path)
            meta = json.loads((folder / META_NAME).read_text(encoding="utf-8"))
        except (ConfigError, OSError, ValueError):
            return None
        project = meta.get("project_path") or ""
        return Recovery(config, Path(project) if project else None, meta.get("saved_at", "an earlier session"))
