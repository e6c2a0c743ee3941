"""The session a window leaves behind (QSettings): which project was open and which step was shown.

The next start reopens that project like a document app, instead of an empty untitled one; the Train pane then
offers to resume its run if it was stopped.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

PROJECT_KEY = "session/project"
STEP_KEY = "session/step"


def remember_session(settings: QSettings, project: Path | None, step: str) -> None:
    """Record the open project (None: an unsaved one, which is not reopened) and the step on screen."""
    settings.setValue(PROJECT_KEY, str(project.resolve()) if project is not None else "")
    settings.setValue(STEP_KEY, step)
    settings.sync()


def last_session(settings: QSettings) -> tuple[Path | None, str]:
    """The project file to reopen (only when it still exists) and the step to show."""
    value = str(settings.value(PROJECT_KEY, "") or "")
    step = str(settings.value(STEP_KEY, "") or "")
    path = Path(value) if value else None
    return (path if path is not None and path.is_file() else None), step
