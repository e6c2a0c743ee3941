"""The per-user cache folder: stored data checks and decoded datasets, reused by every run and process.

`$WORKBENCH_CACHE_DIR` overrides it (the tests and benchmarks point it at a temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    override = os.environ.get("WORKBENCH_CACHE_DIR", "").strip()
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("workbench", appauthor=False))
