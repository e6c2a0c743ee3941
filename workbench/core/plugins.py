"""Outside code adds registry entries (architectures, strategies, diagnostics, …) through entry points.

A package declares, in its pyproject.toml:

    [project.entry-points."workbench.plugins"]
    my_plugin = "my_package.workbench_plugin:register"

and `register()` adds its entries with the registries' own functions (e.g. `register_strategy`).
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

log = logging.getLogger(__name__)
GROUP = "workbench.plugins"
_loaded: dict[str, str] = {}


def load_plugins() -> dict[str, str]:
    """Call every plugin's register function once; returns plugin name → "ok" or the error it raised."""
    for entry in entry_points(group=GROUP):
        if entry.name in _loaded:
            continue
        try:
            entry.load()()
            _loaded[entry.name] = "ok"
        except Exception as error:  # a broken plugin must not stop the application
            _loaded[entry.name] = f"{type(error).__name__}: {error}"
            log.warning("plugin %s failed to load: %s", entry.name, error)
    return dict(_loaded)
