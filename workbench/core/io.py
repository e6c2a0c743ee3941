"""Writing files so that a crash, a full disk or a killed process never leaves half a file behind.

Every file Workbench writes for keeps (project files, checkpoints, run records, bundles) goes through
here: the bytes go to a temporary file beside the target, are flushed to disk, then renamed over it.
`os_error_message` words a failed read or write for the user: the file, what is wrong, what to do.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename, so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():  # say so now, rather than as a bare IsADirectoryError from the rename
        raise IsADirectoryError(21, "a folder of that name is in the way; choose a file name instead", str(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """`atomic_write_bytes` for text."""
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str | Path, data: Any, indent: int | None = 2) -> None:
    """`atomic_write_bytes` for JSON; values JSON cannot hold (paths, dates) are written as text."""
    atomic_write_bytes(path, json.dumps(data, indent=indent, default=str).encode("utf-8"))


_OS_ADVICE = {
    errno.ENOENT: "check the path",
    errno.EISDIR: "a folder of that name is in the way; give a file name instead",
    errno.ENOTDIR: "a part of the path is a file, not a folder; check the path",
    errno.EACCES: "choose a place you may write to, or change its permissions",
    errno.EPERM: "choose a place you may write to, or change its permissions",
    errno.EROFS: "the disk is read-only; choose a writable folder (for example with -o)",
    errno.ENOSPC: "the disk is full; free space or choose another folder",
}


def os_error_message(error: OSError) -> str:
    """An OSError as 'FILE: what is wrong; what to do' rather than a bare exception name."""
    if error.errno is None or error.filename is None:  # raised with a message of its own: it already says it all
        return str(error) or type(error).__name__
    where = error.filename
    what = error.strerror or str(error) or type(error).__name__
    advice = _OS_ADVICE.get(error.errno or -1, "check the file and try again")
    return f"{where}: {what}; {advice}" if advice not in what else f"{where}: {what}"
