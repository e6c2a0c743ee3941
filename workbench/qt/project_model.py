"""The open project: the current ProjectConfig, its file, and whether it has unsaved changes.

Panes never keep their own copy of settings. They read `project.config`, write with
`project.update("training.lr", 0.01)` (which validates the one field and returns an error message
instead of raising), and refresh when `changed` names a key they show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from PySide6.QtCore import QObject, QStandardPaths, Signal

from workbench.core.config import ConfigError, ProjectConfig, load_config, resolve_paths, save_config
from workbench.core.fixes import LEDGER_KEY, AppliedFix, FixPlan, plan_fix, undo_fix


def default_runs_base() -> Path:
    """Where an unsaved project keeps its runs: the application's data folder."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(location or Path.home() / ".workbench") / "unsaved"


def get_path(config: BaseModel, key: str) -> Any:
    value: Any = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


def key_affects(changed_key: str, *watched: str) -> bool:
    """True when a change to `changed_key` ("" = everything) touches any of the `watched` keys or sections."""
    if not changed_key:
        return True
    return any(changed_key == key or changed_key.startswith(key + ".") or key.startswith(changed_key + ".")
               for key in watched)


class ProjectModel(QObject):
    """Holds the project configuration and emits `changed(key)` after every committed change."""

    changed = Signal(str)  # dotted key that changed, or "" when the whole config was replaced
    dirty_changed = Signal(bool)
    path_changed = Signal(object)  # Path | None

    def __init__(self, config: ProjectConfig | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._config = config or ProjectConfig()
        self._path: Path | None = None
        self._dirty = False

    # --- reading ----------------------------------------------------------------------------------

    @property
    def config(self) -> ProjectConfig:
        """The current configuration; treat it as read-only and change it through `update`."""
        return self._config

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def dirty(self) -> bool:
        return self._dirty

    def get(self, key: str) -> Any:
        return get_path(self._config, key)

    def effective_config(self) -> ProjectConfig:
        """A copy with absolute paths, runs beside the project file (or in the app data folder if unsaved)."""
        base = self._path.parent if self._path is not None else default_runs_base()
        return resolve_paths(self._config, base)

    # --- writing ----------------------------------------------------------------------------------

    def update(self, key: str, value: Any) -> str | None:
        """Set one field; returns None on success, or a readable message when the value is not allowed."""
        return self._try_update(key, value)

    def update_many(self, values: dict[str, Any]) -> dict[str, str]:
        """Set several fields; returns {key: message} for those that were refused."""
        errors = {}
        for key, value in values.items():
            message = self._try_update(key, value)
            if message:
                errors[key] = message
        return errors

    def _try_update(self, key: str, value: Any) -> str | None:
        try:
            current = self.get(key)
        except AttributeError:
            return f"unknown setting {key!r}"
        if current == value and type(current) is type(value):
            return None
        parts = key.split(".")
        config = self._config.model_copy(deep=True)
        owner: BaseModel = config
        for part in parts[:-1]:
            owner = getattr(owner, part)
        try:
            setattr(owner, parts[-1], value)
        except ValidationError as error:
            return error.errors()[0]["msg"].removeprefix("Value error, ")
        except (TypeError, ValueError) as error:
            return str(error)
        self._config = config
        self._set_dirty(True)
        self.changed.emit(key)
        return None

    def plan_fix(self, patch: dict[str, Any], code: str = "", title: str = "") -> FixPlan:
        """What applying a finding's fix would change, and the earlier fixes it would undo."""
        return plan_fix(self._config, patch, code, title)

    def apply_fix(self, plan: FixPlan, force: bool = False) -> dict[str, str]:
        """Apply a planned fix and record it (for Undo); returns refused keys with their reasons.

        A plan that would undo an earlier fix is refused unless `force` (the user saw the conflict)."""
        if plan.conflicts and not force:
            return {"conflict": "; ".join(plan.conflicts)}
        before = self._config
        errors = self.update_many(plan.patch())
        if errors:
            self._config = before  # all or nothing: half a fix is no fix
            self.changed.emit("")
            return errors
        record = AppliedFix(plan.code, plan.title, plan.changes).to_record()
        ledger = [r.model_dump(mode="json") for r in self._config.diagnostics.applied_fixes] + [record]
        message = self._try_update(LEDGER_KEY, ledger)
        return {LEDGER_KEY: message} if message else {}

    def undo_fix(self) -> str:
        """Undo the last applied fix; returns what was undone ("training.lr 0.025 → 0.0025"), or raises
        ValueError with the reason it cannot be undone."""
        config, fix = undo_fix(self._config)
        self._config = config
        self._set_dirty(True)
        for change in fix.changes:
            self.changed.emit(change.key)
        self.changed.emit(LEDGER_KEY)
        return fix.text()

    def set_config(self, config: ProjectConfig, path: Path | None = None, dirty: bool = False) -> None:
        """Replace the whole configuration (New, Open, recovery)."""
        self._config = config
        self._set_path(path)
        self._set_dirty(dirty)
        self.changed.emit("")

    def new(self) -> None:
        self.set_config(ProjectConfig(), None, False)

    def open(self, path: str | Path) -> None:
        """Load a project file; raises ConfigError with a readable message when it cannot be used."""
        path = Path(path).resolve()
        self.set_config(load_config(path), path, False)

    def save(self, path: str | Path | None = None) -> Path:
        """Write the project as TOML (atomically); raises ConfigError when there is no path yet."""
        target = Path(path).resolve() if path is not None else self._path
        if target is None:
            raise ConfigError("the project has no file yet; use Save As")
        self._name_after(target)
        save_config(self._config, target)
        self._set_path(target)
        self._set_dirty(False)
        return target

    def _name_after(self, target: Path) -> None:
        """The project name follows the file name ("Save as elpv.toml" names it "elpv") unless the user chose one:
        a name that is still the default, or that followed the previous file name, follows the new one."""
        name = self._config.name
        followed = name == ProjectConfig.model_fields["name"].default or (self._path is not None and name == self._path.stem)
        if followed and target.stem and target.stem != name:
            self._try_update("name", target.stem)  # a stem the schema refuses leaves the name as it is

    def mark_dirty(self) -> None:
        self._set_dirty(True)

    def _set_dirty(self, dirty: bool) -> None:
        if dirty != self._dirty:
            self._dirty = dirty
            self.dirty_changed.emit(dirty)

    def _set_path(self, path: Path | None) -> None:
        if path != self._path:
            self._path = path
            self.path_changed.emit(path)
