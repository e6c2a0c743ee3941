"""The run's settings as the report states them: every setting that differs from the default, with its value.

Values are compared with the defaults by type as well as value, so a switch that is on (`True`) is never
taken for a number (`1.0`) and dropped, which a plain `v not in (False, 0, 0.0, 1.0)` filter would do.
"""

from __future__ import annotations

from typing import Any

from workbench.core.dotted import flatten
from workbench.core.export.report.html import esc

# Settings that say where things are, not how the model was made; they are given elsewhere in the report.
_PLACES = ("runs_dir",)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):  # True == 1.0 in Python: a switch is never a number
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b  # 10 written by hand is the same as 10.0
    return type(a) is type(b) and a == b


def default_settings() -> dict[str, Any]:
    from workbench.core.config import ProjectConfig

    return flatten(ProjectConfig().model_dump(mode="json"))


def changed_settings(config: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(dotted key, value, default) of every setting of `config` (a plain dict) that is not its default."""
    defaults = default_settings()
    rows = []
    for key, value in flatten(config).items():
        if key in _PLACES or key == "schema_version":
            continue
        default = defaults.get(key, None)
        if key not in defaults or not _same(value, default):
            rows.append((key, value, default if key in defaults else "(no default)"))
    return rows


def show_value(value: Any) -> str:
    """A setting as a reader expects it: switches as on/off, lists joined, text as given."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return ", ".join(show_value(v) for v in value) or "none"
    return str(value)


def augmentation_text(config: dict[str, Any]) -> str:
    """The augmentations in use with their settings ("hflip on, rotation 10.0"), or "none"."""
    prefix = "preprocessing.augmentation."
    used = [(k.removeprefix(prefix), v) for k, v, _ in changed_settings(config) if k.startswith(prefix)]
    return ", ".join(f"{name} {show_value(value)}" for name, value in used) or "none"


def section_full_config(d: dict[str, Any], columns: int = 3) -> str:
    """The run's config.toml in three columns of equal length, so it fills a page instead of trailing over three."""
    lines = d["config_toml"].splitlines()
    size = -(-len(lines) // columns)
    cells = "".join(f'<td valign="top" width="{100 // columns}%"><pre>{esc(chr(10).join(lines[i:i + size]))}</pre></td>'
                    for i in range(0, len(lines), size))
    return ("<p>The run's config.toml, every setting with its value.</p>"
            f'<table border="0" cellspacing="0" cellpadding="2" width="100%"><tr>{cells}</tr></table>')
