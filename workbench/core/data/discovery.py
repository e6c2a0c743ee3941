"""Finding the images and labels of a dataset in one of three layouts.

- class folders: `root/<class>/<images>` (nested folders inside a class are searched too);
- a CSV manifest with `path,label` columns (and an optional `split`), paths relative to the CSV;
- a pre-split folder: `root/train/<class>/…`, `root/test/<class>/…`, and optionally `root/val/<class>/…`.

Unreadable and non-image files are listed in `DatasetScan.skipped` with a reason; they never stop a scan.
"""

from __future__ import annotations

import csv
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from workbench.core.data import header_memo
from workbench.core.data.errors import DatasetError
from workbench.core.data.reading import SUPPORTED_SUFFIXES

SPLIT_FOLDER_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                      "test": "test", "testing": "test"}
_IGNORED_NAMES = {"__macosx", ".ds_store", "thumbs.db", "desktop.ini"}

Progress = Callable[[int, int], None]
ShouldStop = Callable[[], bool]


@dataclass(frozen=True)
class Sample:
    path: str
    label: str
    split: str | None = None  # given by a pre-split layout or a CSV 'split' column


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass
class DatasetScan:
    source: str
    layout: str
    classes: list[str]
    samples: list[Sample]
    skipped: list[SkippedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        tally = Counter(s.label for s in self.samples)
        return {c: tally.get(c, 0) for c in self.classes}

    def labels(self) -> list[int]:
        index = {c: i for i, c in enumerate(self.classes)}
        return [index[s.label] for s in self.samples]

    @property
    def presplit(self) -> list[str | None]:
        return [s.split for s in self.samples]


def _natural_key(text: str) -> tuple[list, str]:
    """Natural order ("img2" before "img10"), case-blind; ties ("Cat"/"cat", "c1"/"c01") broken by the exact
    text, so the order is total and never depends on set or hash order."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)], text


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name.lower() in _IGNORED_NAMES


# Dot-folders that tools make (version control, notebooks, caches): hidden on purpose, never classes.
_TOOL_FOLDERS = {".git", ".svn", ".hg", ".ipynb_checkpoints", ".cache", ".thumbnails", ".trash", ".trashes",
                 ".idea", ".vscode", ".venv", ".dvc", ".spotlight-v100", ".fseventsd"}


def _holds_images(folder: Path) -> bool:
    """Whether `folder` directly holds an image file (a cheap look, not a full walk)."""
    try:
        return any(entry.is_file() and Path(entry.name).suffix.lower() in SUPPORTED_SUFFIXES
                   for entry in os.scandir(folder))
    except OSError:
        return False


def _walk_files(folder: Path) -> list[Path]:
    """All non-hidden files under `folder`, following symbolic links but never looping."""
    found: list[Path] = []
    seen: set[str] = set()
    for current, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(current)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted((d for d in dirs if not _is_hidden(d)), key=_natural_key)
        found.extend(Path(current) / f for f in sorted(files, key=_natural_key) if not _is_hidden(f))
    return found


def check_image_header(path: Path) -> str | None:
    """A reason the file is not a usable image, or None. Cheap: reads the header only."""
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return f"not an image file type ({path.suffix or 'no extension'}); Workbench reads PNG, JPEG, BMP and TIFF"
    try:
        if path.stat().st_size == 0:
            return "file is empty (0 bytes)"
        with Image.open(path) as image:
            if image.width < 1 or image.height < 1:
                return "image has no pixels"
    except FileNotFoundError:
        return "file not found (a broken link?)"
    except UnidentifiedImageError:
        return "not an image Workbench can read (unknown or wrong format)"
    except Image.DecompressionBombError as error:
        return f"refused as a possible decompression bomb: {error}"
    except (OSError, SyntaxError, ValueError) as error:
        return f"cannot be opened ({error})"
    return None


def _collect(
    candidates: list[tuple[Path, str, str | None]],
    progress: Progress | None,
    should_stop: ShouldStop | None,
    verify: bool,
    root: Path,
) -> tuple[list[Sample], list[SkippedFile]]:
    """The readable samples and the skipped files. A header verified by an earlier scan, of a file unchanged
    since (header_memo.py), is not opened again."""
    samples: list[Sample] = []
    skipped: list[SkippedFile] = []
    total = len(candidates)
    known = header_memo.load_verified(root) if verify else {}
    verified: dict[str, header_memo.Stamp] = {}
    for i, (path, label, split) in enumerate(candidates):
        if should_stop is not None and should_stop():
            raise InterruptedError("scan cancelled")
        reason = None
        if verify:
            now = header_memo.stamp(path)
            if now is None or known.get(str(path)) != now:
                reason = check_image_header(path)
            if reason is None and now is not None:
                verified[str(path)] = now
        if reason is None:
            samples.append(Sample(str(path), label, split))
        else:
            skipped.append(SkippedFile(str(path), reason))
        if progress is not None and (i % 50 == 0 or i == total - 1):
            progress(i + 1, total)
    if verify and verified != known:
        header_memo.save_verified(root, verified)
    return samples, skipped


def detect_layout(source: Path) -> str:
    if source.is_file():
        if source.suffix.lower() in (".csv", ".tsv", ".txt"):
            return "csv"
        raise DatasetError(f"{source} is a file, not a folder or a CSV manifest; choose the folder of images instead")
    subdirs = {d.name.lower() for d in source.iterdir() if d.is_dir() and not _is_hidden(d.name)}
    splits = {SPLIT_FOLDER_NAMES[n] for n in subdirs if n in SPLIT_FOLDER_NAMES}
    if "train" in splits and ({"test", "val"} & splits) and len(subdirs) == len(
        [n for n in subdirs if n in SPLIT_FOLDER_NAMES]
    ):
        return "presplit"
    return "class_folders"


def _check_source(source: str | Path) -> Path:
    if not str(source).strip():
        raise DatasetError("no dataset chosen: pick a folder with one sub-folder per class, or a CSV manifest")
    path = Path(source).expanduser()
    if not path.exists():
        raise DatasetError(f"dataset folder {path} does not exist; check the path or choose another folder")
    if path.is_dir() and not os.access(path, os.R_OK | os.X_OK):
        raise DatasetError(f"dataset folder {path} cannot be read (permission denied)")
    return path


def _scan_class_folders(root: Path, split: str | None = None) -> tuple[list[tuple[Path, str, str | None]], list[str]]:
    candidates: list[tuple[Path, str, str | None]] = []
    warnings: list[str] = []
    class_dirs = sorted((d for d in root.iterdir() if d.is_dir() and not _is_hidden(d.name)),
                        key=lambda d: _natural_key(d.name))
    loose = [f for f in root.iterdir() if f.is_file() and not _is_hidden(f.name) and f.suffix.lower() in SUPPORTED_SUFFIXES]
    if loose:
        warnings.append(
            f"{len(loose)} image(s) lie directly in {root} rather than in a class folder and were left out; "
            "move each into the folder of its class"
        )
    hidden = [d.name for d in root.iterdir() if d.is_dir() and d.name.startswith(".")
              and d.name.lower() not in _TOOL_FOLDERS and _holds_images(d)]
    if hidden:
        warnings.append(
            f"the folder(s) {', '.join(hidden)} in {root} hold images but start with a dot, so they are hidden and "
            "were left out; rename them (for example '.5mm' to '0.5mm') to use them as classes"
        )
    split_like = [d.name for d in class_dirs if d.name.lower() in SPLIT_FOLDER_NAMES]
    if split is None and len(split_like) >= 2:
        others = [d.name for d in class_dirs if d.name.lower() not in SPLIT_FOLDER_NAMES]
        warnings.append(
            f"the folders {', '.join(split_like)} in {root} look like train/val/test splits, but "
            f"{', '.join(others[:5])} {'is' if len(others) == 1 else 'are'} not a split name, so every folder was "
            "taken as a class; move or rename the other folder(s) to use the pre-split layout"
        )
    for class_dir in class_dirs:
        files = _walk_files(class_dir)
        if not files:
            warnings.append(f"class folder {class_dir} is empty and was left out; add images to it or remove it")
        candidates.extend((f, class_dir.name, split) for f in files)
    return candidates, warnings


def _scan_presplit(root: Path) -> tuple[list[tuple[Path, str, str | None]], list[str]]:
    candidates: list[tuple[Path, str, str | None]] = []
    warnings: list[str] = []
    for folder in sorted(d for d in root.iterdir() if d.is_dir() and not _is_hidden(d.name)):
        split = SPLIT_FOLDER_NAMES.get(folder.name.lower())
        if split is None:
            continue
        found, notes = _scan_class_folders(folder, split)
        candidates += found
        warnings += notes
    return candidates, warnings


def read_text_file(path: Path, what: str = "CSV manifest") -> tuple[str, str | None]:
    """The text of a CSV file, and a warning when it was not UTF-8.

    UTF-8 (with or without BOM) and UTF-16 (BOM, or the NUL pattern of ASCII in UTF-16) are read as they are;
    other text is read as Windows-1252 (a superset of Latin-1) with a warning. Binary files are refused.
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DatasetError(f"{what} {path} cannot be read ({error.strerror or error}); check that it exists "
                           "and that you may read it") from None
    encoding = None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encoding = "utf-16"
    elif len(data) >= 4 and data[1:4:2] == b"\0\0" and data[0:4:2] != b"\0\0":
        encoding = "utf-16-le"
    elif len(data) >= 4 and data[0:4:2] == b"\0\0" and data[1:4:2] != b"\0\0":
        encoding = "utf-16-be"
    if encoding is not None:
        try:
            return data.decode(encoding).lstrip("\ufeff"), None
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        if b"\0" in data:
            raise DatasetError(f"{what} {path} is not a text file (it holds binary data at byte {error.start}); "
                               "save it as a UTF-8 CSV") from None
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text, (f"{what} {path.name} is not UTF-8; it was read as Windows-1252/Latin-1. If any name looks "
                  "wrong, save the file as UTF-8")


def _scan_csv(manifest: Path) -> tuple[list[tuple[Path, str, str | None]], list[SkippedFile], list[str]]:
    text, encoding_note = read_text_file(manifest)
    dialect = csv.excel_tab if manifest.suffix.lower() == ".tsv" else csv.excel
    reader = csv.DictReader(text.splitlines(), dialect=dialect)
    columns = {(c or "").strip().lower(): c for c in (reader.fieldnames or [])}
    missing = [c for c in ("path", "label") if c not in columns]
    if missing:
        raise DatasetError(
            f"CSV manifest {manifest} lacks the column(s) {', '.join(missing)}; its first line must name at least "
            f"'path,label' (found: {', '.join(reader.fieldnames or []) or 'nothing'})"
        )
    split_col = columns.get("split")
    candidates: list[tuple[Path, str, str | None]] = []
    skipped: list[SkippedFile] = []
    seen: dict[str, int] = {}
    unknown_splits: dict[str, list[int]] = {}
    for row_number, row in enumerate(reader, start=2):
        raw_path = (row.get(columns["path"]) or "").strip()
        label = (row.get(columns["label"]) or "").strip()
        if not raw_path or not label:
            skipped.append(SkippedFile(f"{manifest.name}:{row_number}", "row has an empty path or label"))
            continue
        path = Path(raw_path).expanduser()
        path = path if path.is_absolute() else (manifest.parent / path)
        key = os.path.normcase(os.path.abspath(path))
        if key in seen:
            skipped.append(SkippedFile(str(path), f"row {row_number} repeats row {seen[key]}; the repeat was ignored"))
            continue
        seen[key] = row_number
        if not path.is_file():
            skipped.append(SkippedFile(
                str(path), f"row {row_number} of {manifest.name} names a file that does not exist; fix the path or remove the row"
            ))
            continue
        split = None
        if split_col:
            given = (row.get(split_col) or "").strip()
            split = SPLIT_FOLDER_NAMES.get(given.lower())
            if given and split is None:
                unknown_splits.setdefault(given, []).append(row_number)
        candidates.append((path, label, split))
    if unknown_splits:
        # Guessing would be unsafe: a 'holdout' row put into training leaks the test set.
        detail = "; ".join(f"{value!r} in {len(rows)} row(s) (first: row {rows[0]})"
                           for value, rows in sorted(unknown_splits.items()))
        raise DatasetError(
            f"CSV manifest {manifest.name} has split values Workbench does not know: {detail}. Use train, val or "
            "test (or leave the cell empty to let Workbench choose), then load it again"
        )
    return candidates, skipped, [encoding_note] if encoding_note else []


def scan_dataset(
    source: str | Path,
    layout: str = "auto",
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
    verify: bool = True,
) -> DatasetScan:
    """Find every sample of the dataset at `source`. Raises DatasetError when it cannot be used."""
    root = _check_source(source)
    chosen = detect_layout(root) if layout == "auto" else layout
    skipped: list[SkippedFile] = []
    if chosen == "csv":
        if not root.is_file():
            raise DatasetError(f"{root} is a folder; the CSV layout needs the manifest file itself")
        candidates, skipped, warnings = _scan_csv(root)
    elif not root.is_dir():
        raise DatasetError(f"{root} is not a folder; choose the folder that holds one sub-folder per class")
    elif chosen == "presplit":
        candidates, warnings = _scan_presplit(root)
    else:
        candidates, warnings = _scan_class_folders(root)
    samples, bad = _collect(candidates, progress, should_stop, verify, root)
    skipped += bad
    classes = sorted({s.label for s in samples}, key=_natural_key)
    scan = DatasetScan(str(root), chosen, classes, samples, skipped, warnings)
    _check_usable(scan)
    return scan


def _check_usable(scan: DatasetScan) -> None:
    where = scan.source
    if not scan.samples:
        hint = (
            f" ({len(scan.skipped)} file(s) were found but none could be read; see the skipped list)"
            if scan.skipped else ""
        )
        raise DatasetError(
            f"no usable images found in {where}{hint}. Workbench expects one sub-folder per class holding PNG, "
            "JPEG, BMP or TIFF images, a CSV manifest with 'path,label' columns, or train/ val/ test/ folders",
            skipped=tuple(scan.skipped),
        )
    if len(scan.classes) < 2:
        raise DatasetError(
            f"only one class ({scan.classes[0]!r}) was found in {where}; a classifier needs at least two. "
            "Put each class's images in its own sub-folder"
        )
