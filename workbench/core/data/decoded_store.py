"""Decoded datasets kept on disk between processes, so a second run of the same files never decodes them again.

An entry is the decoded, resized array (`images.npy`) and what else the decode found (`meta.json`: kept rows,
unreadable files, channels, notes), under the per-user cache folder's `decoded/<key>/`. The key covers every
file's path, size and modification time and the preprocessing that shapes the array (image size, resize mode,
channels), so an edited, added or removed file makes a new entry. Entries are written to a temporary folder
and renamed, so a crash never leaves half an entry; the oldest are removed beyond `WORKBENCH_DECODED_CACHE_GB`
(default 4). `WORKBENCH_DECODED_CACHE=0` turns the store off.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
IN_MEMORY_BYTES = 512 * 1024**2  # smaller entries are read into memory; larger ones are memory-mapped


def enabled() -> bool:
    return os.environ.get("WORKBENCH_DECODED_CACHE", "1").strip() != "0"


def store_folder() -> Path:
    from workbench.core.user_cache import cache_root

    return cache_root() / "decoded"


def _limit_bytes() -> int:
    try:
        return int(float(os.environ.get("WORKBENCH_DECODED_CACHE_GB", "4")) * 1024**3)
    except ValueError:
        return 4 * 1024**3


def load(key: str) -> tuple[np.ndarray, dict[str, Any], bool] | None:
    """(array, meta, on_disk) of the entry `key`, or None where there is none (or it cannot be read)."""
    if not enabled():
        return None
    folder = store_folder() / key
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        path = folder / "images.npy"
        big = path.stat().st_size > IN_MEMORY_BYTES
        array = np.load(path, mmap_mode="r" if big else None)
        if list(array.shape) != meta["shape"]:
            raise ValueError(f"stored shape {array.shape} is not {meta['shape']}")
        with contextlib.suppress(OSError):
            os.utime(folder / "meta.json")  # recently used: evicted last
        return array, meta, big
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        log.warning("the stored decoded images %s could not be read; decoding afresh", key, exc_info=True)
        shutil.rmtree(folder, ignore_errors=True)
        return None


def save(key: str, array: np.ndarray, meta: dict[str, Any]) -> None:
    """Keep `array` and `meta` as the entry `key`; a failure (a full disk) only costs the next run a decode."""
    if not enabled() or array.nbytes > _limit_bytes():
        return
    root = store_folder()
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=root))
        np.save(staging / "images.npy", np.ascontiguousarray(array))
        (staging / "meta.json").write_text(json.dumps({**meta, "shape": list(array.shape), "saved": time.time()}),
                                           encoding="utf-8")
        try:
            staging.rename(root / key)
        except OSError:  # another process stored the same entry first
            shutil.rmtree(staging, ignore_errors=True)
        _evict(root, _limit_bytes())
    except OSError:
        log.warning("the decoded images could not be stored in %s", root, exc_info=True)


def _evict(root: Path, limit: int) -> None:
    """Remove the least recently used entries until the store holds at most `limit` bytes."""
    entries = []
    for folder in root.iterdir():
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        with contextlib.suppress(OSError):
            size = sum(f.stat().st_size for f in folder.iterdir())
            entries.append(((folder / "meta.json").stat().st_mtime, size, folder))
    total = sum(size for _, size, _ in entries)
    for _, size, folder in sorted(entries):
        if total <= limit:
            break
        shutil.rmtree(folder, ignore_errors=True)
        total -= size
