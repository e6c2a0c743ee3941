"""Image headers already verified, remembered between processes, so that a re-scan of unchanged files opens none.

A scan opens every file's header to find the unreadable ones: 0.27 s for 2,100 small PNGs, and far longer for a
large dataset on a slow disk. A file whose path, size and modification time match those of a file verified
before is readable as it was, so its header is not opened again; a file that changed in any of them is checked
afresh. The memo is one JSON file per dataset source in the per-user cache folder (`headers/`), written
atomically; where it cannot be read or written, every header is checked, as without it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)
Stamp = tuple[int, int]  # (size in bytes, modification time in ns)


def _memo_file(source: Path) -> Path:
    from workbench.core.user_cache import cache_root

    name = hashlib.sha256(str(source.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return cache_root() / "headers" / f"{name}.json"


def stamp(path: Path) -> Stamp | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns


def load_verified(source: Path) -> dict[str, Stamp]:
    """The files of `source` whose headers were verified, with their stamps then ({} where nothing is known)."""
    try:
        raw = json.loads(_memo_file(source).read_text(encoding="utf-8"))
        return {str(path): (int(size), int(mtime)) for path, (size, mtime) in raw["verified"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def save_verified(source: Path, verified: dict[str, Stamp]) -> None:
    """Remember `verified` for the next scan of `source` (a failure to write only costs that scan the headers)."""
    from workbench.core.io import atomic_write_json

    target = _memo_file(source)
    try:
        atomic_write_json(target, {"source": str(source), "verified": verified}, indent=None)
    except OSError:
        log.info("the verified image headers could not be remembered in %s", target.parent, exc_info=True)
