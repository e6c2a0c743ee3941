"""Recently opened projects and window geometry, kept in QSettings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

RECENT_KEY = "recentProjects"
MAX_RECENT = 8


def app_settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "Workbench", "Workbench")


def recent_projects(settings: QSettings) -> list[str]:
    value = settings.value(RECENT_KEY, [])
    if isinstance(value, str):
        value = [value] if value else []
    return [str(v) for v in (value or []) if v]


def add_recent_project(settings: QSettings, path: str | Path) -> list[str]:
    entry = str(Path(path).resolve())
    items = [entry] + [p for p in recent_projects(settings) if p != entry]
    items = items[:MAX_RECENT]
    settings.setValue(RECENT_KEY, items)
    settings.sync()
    return items


def remove_recent_project(settings: QSettings, path: str) -> None:
    settings.setValue(RECENT_KEY, [p for p in recent_projects(settings) if p != path])


def save_geometry(settings: QSettings, geometry: QByteArray, state: QByteArray) -> None:
    settings.setValue("window/geometry", geometry)
    settings.setValue("window/state", state)
    settings.sync()


def load_geometry(settings: QSettings) -> tuple[QByteArray | None, QByteArray | None]:
    geometry = settings.value("window/geometry")
    state = settings.value("window/state")
    return (geometry if isinstance(geometry, QByteArray) else None, state if isinstance(state, QByteArray) else None)
