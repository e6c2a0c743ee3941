"""Checks that make opening a model bundle safe: no path escapes, no links, no pickles, no zip bombs.

A bundle is a zip archive that may come from anyone. It is read in memory, never extracted, and
every member is checked before anything is parsed. Pickles are refused outright, whatever their name,
because unpickling runs arbitrary code.
"""

from __future__ import annotations

import io
import pickletools
import re
import stat
import struct
import zipfile

PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".bin", ".npy", ".npz")
MAX_TEXT_BYTES = 16 * 1024**2
MAX_TOTAL_BYTES = 8 * 1024**3
# Real members compress at most ~10:1 (JSON, Markdown); weights are stored. A far higher ratio is a bomb.
MAX_RATIO = 200
RATIO_FREE_BYTES = 1024**2  # tiny members may compress very well (a short JSON of repeated keys)
_CHUNK = 1024**2
_DRIVE = re.compile(r"^[A-Za-z]:")


class BundleError(ValueError):
    """A bundle that cannot be opened safely or is incomplete; the message says why."""


def check_member_name(name: str) -> None:
    """Refuse names that could point outside the bundle if it were ever extracted (zip-slip)."""
    if not name or "\x00" in name:
        raise BundleError(f"bundle member {name!r} has an empty or invalid name; the bundle was refused")
    if "\\" in name or name.startswith("/") or _DRIVE.match(name):
        raise BundleError(f"bundle member {name!r} has an absolute or Windows path; the bundle was refused")
    if any(part == ".." for part in name.split("/")):
        raise BundleError(f"bundle member {name!r} points outside the bundle ('..'); the bundle was refused")


def looks_like_pickle(data: bytes) -> bool:
    """True for Python pickles of any protocol (checked by disassembly, never by loading)."""
    if len(data) >= 2 and data[0] == 0x80 and 1 <= data[1] <= 5:
        return True  # protocol 2+ header
    if not data:
        return False
    try:  # protocols 0 and 1: valid only if the whole opcode stream checks out and reaches STOP
        pickletools.dis(io.BytesIO(data[: 1 << 20]), out=io.StringIO())
    except Exception:
        return False
    return True


def looks_like_archive(data: bytes) -> bool:
    """Nested zip archives are refused: a PyTorch .pt checkpoint is one, with a pickle inside."""
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def check_safetensors(data: bytes, name: str) -> None:
    """The member must be a safetensors file: an 8-byte header length, then a JSON header."""
    if len(data) < 10:
        raise BundleError(f"bundle member {name} is too short to be a safetensors file")
    (length,) = struct.unpack("<Q", data[:8])
    if length <= 1 or 8 + length > len(data) or data[8:9] != b"{":
        raise BundleError(f"bundle member {name} is not a safetensors file; the bundle was refused")


def check_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Check every member's name, type and size; returns the members."""
    members = archive.infolist()
    names = [m.filename for m in members]
    if len(set(names)) != len(names):
        raise BundleError("the bundle holds two members with the same name; it was refused")
    total = 0
    for info in members:
        check_member_name(info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise BundleError(f"bundle member {info.filename} is a symbolic link; the bundle was refused")
        if info.filename.lower().endswith(PICKLE_SUFFIXES):
            raise BundleError(
                f"bundle member {info.filename} is a pickle-based file; Workbench never opens pickles, because they "
                "can run arbitrary code. The bundle was refused"
            )
        if info.file_size > RATIO_FREE_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise BundleError(
                f"bundle member {info.filename} inflates from {info.compress_size:,} to {info.file_size:,} bytes, "
                f"{info.file_size // max(info.compress_size, 1):,} times its compressed size (a zip bomb?); "
                "the bundle was refused"
            )
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise BundleError(f"the bundle unpacks to {total / 1024**3:.1f} GiB, over the 8 GiB limit; it was refused")
    return members


def check_content(name: str, data: bytes, weights_name: str) -> None:
    """Refuse pickled or nested-archive content, whatever the member is called."""
    if looks_like_archive(data):
        raise BundleError(f"bundle member {name} is itself an archive (such as a PyTorch .pt file); refused")
    if name == weights_name:
        check_safetensors(data, name)
    elif looks_like_pickle(data):
        raise BundleError(f"bundle member {name} holds a Python pickle; Workbench never unpickles. The bundle was refused")


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """The member's bytes, read in chunks, refused before reading when it declares more than `limit`.

    zipfile never inflates past the declared size, and checks the CRC at the end, so a member whose header
    lies about its size is refused as damaged after at most its declared (already checked) number of bytes.
    """
    if info.file_size > limit:
        raise BundleError(f"bundle member {info.filename} is {info.file_size:,} bytes, over the {limit:,}-byte "
                          "limit for it; the bundle was refused")
    parts: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as handle:
            while chunk := handle.read(_CHUNK):
                size += len(chunk)
                if size > info.file_size:  # defence in depth; zipfile itself stops at the declared size
                    raise BundleError(f"bundle member {info.filename} inflates past its declared {info.file_size:,} "
                                      "bytes; the bundle is damaged or crafted and was refused")
                parts.append(chunk)
    except BundleError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, RuntimeError, NotImplementedError) as error:
        raise BundleError(f"bundle member {info.filename} cannot be read ({error}): the bundle is damaged or "
                          "crafted and was refused. Export it again from the run") from None
    return b"".join(parts)
