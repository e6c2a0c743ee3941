"""Dataset discovery in the three layouts, with skipped files listed and clear errors."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.core.data.discovery import scan_dataset
from workbench.core.data.errors import DatasetError


def _png(path: Path, value: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((6, 6), value, np.uint8)).save(path)
    return path


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    for cls in ("cat", "dog"):
        for i in range(3):
            _png(tmp_path / "data" / cls / f"{i}.png")
    return tmp_path / "data"


def test_class_folders(folders: Path) -> None:
    scan = scan_dataset(folders)
    assert scan.layout == "class_folders"
    assert scan.classes == ["cat", "dog"]
    assert scan.counts() == {"cat": 3, "dog": 3}
    assert not scan.skipped


def test_unreadable_and_foreign_files_are_listed_not_fatal(folders: Path) -> None:
    (folders / "cat" / "broken.png").write_bytes(b"\x89PNG garbage")
    (folders / "cat" / "empty.jpg").write_bytes(b"")
    (folders / "dog" / "notes.txt").write_text("hello")
    (folders / "dog" / ".DS_Store").write_bytes(b"junk")
    (folders / "__MACOSX").mkdir()
    _png(folders / "__MACOSX" / "x.png")
    scan = scan_dataset(folders)
    reasons = {Path(s.path).name: s.reason for s in scan.skipped}
    assert set(reasons) == {"broken.png", "empty.jpg", "notes.txt"}
    assert "empty" in reasons["empty.jpg"] and "not an image file type" in reasons["notes.txt"]
    assert scan.counts() == {"cat": 3, "dog": 3}


def test_nested_unicode_and_space_paths(tmp_path: Path) -> None:
    _png(tmp_path / "d" / "größe eins" / "sub dir" / "bild 1.png")
    _png(tmp_path / "d" / "größe eins" / "bild 2.png")
    _png(tmp_path / "d" / "两" / "图.png")
    scan = scan_dataset(tmp_path / "d")
    assert scan.counts() == {"größe eins": 2, "两": 1}


@pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")
def test_symlink_loop_terminates(folders: Path) -> None:
    os.symlink(folders / "cat", folders / "cat" / "loop")
    assert scan_dataset(folders).counts()["cat"] == 3


def test_csv_manifest_with_bom_relative_paths_duplicates_and_missing_files(folders: Path) -> None:
    manifest = folders.parent / "labels.csv"
    manifest.write_text(
        "\ufeffpath,label\ndata/cat/0.png,cat\ndata/cat/0.png,cat\ndata/dog/1.png,dog\ndata/dog/ghost.png,dog\n",
        encoding="utf-8",
    )
    scan = scan_dataset(manifest)
    assert scan.layout == "csv"
    assert scan.counts() == {"cat": 1, "dog": 1}
    reasons = " | ".join(s.reason for s in scan.skipped)
    assert "row 3 repeats row 2" in reasons
    assert "row 5" in reasons and "does not exist" in reasons


def test_csv_missing_columns_is_explained(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("file,class\na.png,x\n")
    with pytest.raises(DatasetError, match="lacks the column"):
        scan_dataset(manifest)


def test_presplit_layout(tmp_path: Path) -> None:
    for split in ("train", "test"):
        for cls in ("a", "b"):
            for i in range(2):
                _png(tmp_path / "d" / split / cls / f"{i}.png")
    scan = scan_dataset(tmp_path / "d")
    assert scan.layout == "presplit"
    assert sorted({s.split for s in scan.samples}) == ["test", "train"]


def test_missing_folder_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        scan_dataset(tmp_path / "nowhere")


def test_empty_class_folder_is_reported(folders: Path) -> None:
    (folders / "bird").mkdir()
    scan = scan_dataset(folders)
    assert any("bird" in w and "empty" in w for w in scan.warnings)
    assert "bird" not in scan.classes


def test_single_class_is_refused(folders: Path) -> None:
    shutil.rmtree(folders / "dog")
    with pytest.raises(DatasetError, match="only one class"):
        scan_dataset(folders)


def test_empty_dataset_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no usable images"):
        scan_dataset(tmp_path / "empty")


def test_a_rescan_opens_no_header_of_an_unchanged_file_and_rechecks_a_changed_one(tmp_path: Path, monkeypatch) -> None:
    """Headers verified once are remembered by path, size and modification time (header_memo.py): a second scan of
    the same files opens none of them, and a file replaced since is checked again and skipped when it is broken."""
    from workbench.core.data import discovery

    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "data"
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for n in range(3):
            Image.fromarray(np.full((8, 8), 40 * n, np.uint8)).save(root / label / f"{n}.png")
    opened: list[Path] = []
    check = discovery.check_image_header
    monkeypatch.setattr(discovery, "check_image_header", lambda path: opened.append(path) or check(path))
    first = scan_dataset(root)
    assert len(opened) == 6
    opened.clear()
    second = scan_dataset(root)
    assert opened == [] and second.samples == first.samples and not second.skipped
    (root / "b" / "1.png").write_bytes(b"not a png at all")  # replaced: a new size and time
    third = scan_dataset(root)
    assert opened == [root / "b" / "1.png"]
    assert [s.path for s in third.skipped] == [str(root / "b" / "1.png")] and len(third.samples) == 5
