"""Decode, convert and resize every image once, and keep the result for all epochs.

The cache lives in memory, or in a memory-mapped file when it is large (or memory runs short), so
epochs after the first never decode a file again. The last cache built is kept for the process, and a
copy on disk (decoded_store.py) for later processes, so a second run on the same files and preprocessing
(a resume, a k-fold run, a GUI rerun, the next `workbench train`) skips decoding.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.core.config import PreprocessingConfig
from workbench.core.data import decoded_store, memory
from workbench.core.data.discovery import Sample, SkippedFile
from workbench.core.data.memory import WORK_FACTOR, ByteBudget, estimate_decoded_bytes, per_image_cap
from workbench.core.data.preprocess import prepare
from workbench.core.data.reading import ImageReadError, read_image, value_scale

MEMORY_LIMIT_BYTES = int(os.environ.get("WORKBENCH_CACHE_MEMORY_LIMIT", 2 * 1024**3))


@dataclass
class DecodedImages:
    """The cache: `array` is N×C×S×S of raw pixel values (uint8, uint16 or float32)."""

    array: np.ndarray
    kept: list[int]  # index into the input samples of each cached row
    failed: list[SkippedFile] = field(default_factory=list)
    channels: str = "grayscale"
    value_scale: float = 255.0
    on_disk: bool = False
    notes: list[str] = field(default_factory=list)  # how unusual bit depths were mapped, with image counts

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)


_last: tuple[str, DecodedImages] | None = None
_last_lock = threading.Lock()


def _cache_key(samples: Sequence[Sample], cfg: PreprocessingConfig) -> str:
    digest = hashlib.sha256()
    digest.update(f"{cfg.image_size}|{cfg.resize_mode}|{cfg.channels}".encode())
    for sample in samples:
        try:
            info = os.stat(sample.path)
            stamp = f"{info.st_mtime_ns}|{info.st_size}"
        except OSError:
            stamp = "-1"
        digest.update(f"{sample.path}|{stamp}\n".encode())
    return digest.hexdigest()


def _target_dtype(dtypes: set[np.dtype]) -> np.dtype:
    if any(d.kind == "f" for d in dtypes):
        return np.dtype(np.float32)
    if np.dtype(np.uint16) in dtypes:
        return np.dtype(np.uint16)
    return np.dtype(np.uint8)


def available_memory() -> int | None:
    """Bytes of memory the system can still give (Linux /proc/meminfo); None where unknown."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _allocate(shape: tuple[int, ...], dtype: np.dtype, mode: str, cache_dir: Path | None) -> tuple[np.ndarray, bool]:
    nbytes = int(np.prod(shape)) * dtype.itemsize
    free = available_memory()
    short = free is not None and nbytes > free // 2  # leave room for the model and the rest of the system
    want_disk = mode == "disk" or (mode == "auto" and (nbytes > MEMORY_LIMIT_BYTES or short))
    if not want_disk:
        try:
            return np.empty(shape, dtype=dtype), False
        except MemoryError:
            pass  # fall back to a memory-mapped file
    if cache_dir is None:
        import tempfile

        cache_dir = Path(tempfile.mkdtemp(prefix="workbench-cache-"))
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / "decoded.npy"
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape), True


def decode_dataset(
    samples: Sequence[Sample],
    cfg: PreprocessingConfig,
    *,
    cache_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    workers: int | None = None,
    reuse: bool = True,
) -> DecodedImages:
    """Decode every sample; files that fail are listed in `failed` and left out of `array`."""
    global _last
    files_key = _cache_key(samples, cfg)
    key = files_key + f"|{cfg.cache}"
    with _last_lock:
        if reuse and _last is not None and _last[0] == key:
            return _last[1]
    stored = _from_store(files_key, cfg) if reuse else None
    if stored is not None:
        if progress is not None:
            progress(len(samples), len(samples))
        with _last_lock:
            _last = (key, stored)
        return stored
    size = cfg.image_size
    total = len(samples)
    failed: list[SkippedFile] = []
    done = 0

    notes: Counter[str] = Counter()
    notes_lock = threading.Lock()
    budget = ByteBudget(memory.DECODE_BUDGET_BYTES)

    def load(i: int) -> tuple[int, np.ndarray | None, str | None]:
        if should_stop is not None and should_stop():
            return i, None, "cancelled"
        said: list[str] = []
        # A big image waits until it fits beside the others in the budget (or runs alone).
        cost = budget.acquire(WORK_FACTOR * min(estimate_decoded_bytes(samples[i].path), per_image_cap()))
        try:
            image = read_image(samples[i].path, notes=said, target_side=size)
            # Resize at once, in the image's own channels and dtype, so only small arrays are kept.
            small = prepare(image, size, cfg.resize_mode, "keep", image.dtype)
        except ImageReadError as error:
            return i, None, str(error)
        finally:
            image = None
            budget.release(cost)
        with notes_lock:
            notes.update(set(said))
        return i, small, None

    n_workers = workers or min(4, os.cpu_count() or 1)
    resized: list[np.ndarray | None] = [None] * total
    dtypes: set[np.dtype] = set()
    grey_only = True
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        for i, image, reason in pool.map(load, range(total)):
            if reason == "cancelled":
                raise InterruptedError("decoding cancelled")
            if image is None:
                failed.append(SkippedFile(samples[i].path, reason or "unreadable"))
            else:
                dtypes.add(image.dtype)
                grey_only = grey_only and image.shape[0] == 1
                resized[i] = image
            done += 1
            if progress is not None and (done % 25 == 0 or done == total):
                progress(done, total)
    kept = [i for i in range(total) if resized[i] is not None]
    channels = cfg.channels if cfg.channels != "auto" else ("grayscale" if grey_only else "rgb")
    dtype = _target_dtype(dtypes) if dtypes else np.dtype(np.uint8)
    n_channels = 1 if channels == "grayscale" else 3
    array, on_disk = _allocate((len(kept), n_channels, size, size), dtype, cfg.cache, cache_dir)
    for row, i in enumerate(kept):
        item = resized[i]
        assert item is not None
        array[row] = _finish(item, n_channels, dtype)
        resized[i] = None
    if on_disk and isinstance(array, np.memmap):
        array.flush()
    mixed = len(dtypes) > 1
    summary = [f"{count} image(s): {text}" for text, count in sorted(notes.items())]
    if mixed:
        summary.append(f"images of {len(dtypes)} bit depths ({', '.join(sorted(str(d) for d in dtypes))}) were each "
                       f"scaled by their own depth to one range (8-bit by 255, 16-bit by 65,535, float as 0–1)")
    result = DecodedImages(array, kept, failed, channels, value_scale(dtype), on_disk, summary)
    decoded_store.save(files_key, array, {
        "kept": kept, "failed": [[f.path, f.reason] for f in failed], "channels": channels,
        "value_scale": result.value_scale, "notes": summary})
    with _last_lock:
        _last = (key, result)
    return result


def _from_store(key: str, cfg: PreprocessingConfig) -> DecodedImages | None:
    """The images decoded by an earlier process from these same files and settings, if kept on disk."""
    entry = decoded_store.load(key)
    if entry is None:
        return None
    array, meta, mapped = entry
    if cfg.cache == "disk" and not mapped:  # asked for on disk: keep the memory-mapped copy
        array, mapped = np.load(decoded_store.store_folder() / key / "images.npy", mmap_mode="r"), True
    return DecodedImages(array, list(meta["kept"]), [SkippedFile(path, reason) for path, reason in meta["failed"]],
                         meta["channels"], float(meta["value_scale"]), mapped, list(meta["notes"]))


def _finish(item: np.ndarray, n_channels: int, dtype: np.dtype) -> np.ndarray:
    """A resized CxSxS array brought to the cache's channel count and dtype."""
    if item.shape[0] != n_channels:
        if n_channels == 1:
            item = (item.astype(np.float32) * np.array([0.299, 0.587, 0.114], dtype=np.float32)[:, None, None]).sum(
                0, keepdims=True)
        else:
            item = np.repeat(item, 3, axis=0)
    if item.dtype != dtype:
        values = item.astype(np.float32)
        if dtype == np.uint16 and item.dtype == np.uint8:
            values = values * 257.0
        elif dtype.kind == "f":  # float cache: every integer image to 0–1 by its own depth
            values = values / value_scale(item.dtype)
        if dtype.kind in "ui":
            return np.clip(np.rint(values), 0, np.iinfo(dtype).max).astype(dtype)
        return values.astype(dtype)
    return item


def clear_cache() -> None:
    global _last
    with _last_lock:
        _last = None
