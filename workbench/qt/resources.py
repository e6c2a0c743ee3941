"""Locating the style sheet and icons in the `resources/` folder."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QIcon


def resources_dir() -> Path:
    """`resources/` beside the package in a checkout, inside it in a frozen build, or under share/ in a wheel install."""
    here = Path(__file__).resolve()
    installed = Path(sys.prefix) / "share" / "workbench" / "resources"
    for candidate in (here.parents[2] / "resources", here.parent / "resources", installed):
        if candidate.is_dir():
            return candidate
    return here.parents[2] / "resources"


def style_sheet() -> str:
    """The application style sheet, with `@ICONS@` replaced by the absolute icons folder."""
    path = resources_dir() / "style.qss"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ""
    return text.replace("@ICONS@", (resources_dir() / "icons").as_posix())


def icon(name: str) -> QIcon:
    path = resources_dir() / "icons" / name
    return QIcon(str(path)) if path.exists() else QIcon()


def app_icon() -> QIcon:
    """The application icon in every size drawn by packaging/make_icons.py."""
    result = QIcon()
    for path in sorted((resources_dir() / "icons").glob("workbench-*.png")):
        result.addFile(str(path))
    return result
