"""Bad input from messy folders: each gives a clear message or a listed skip, and never a traceback."""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from tests.helpers import shape_image
from workbench.cli import main
from workbench.core.config import save_config
from workbench.core.training.engine import train

RNG = np.random.default_rng(7)


def _good(folder: Path, kind: int, n: int, stem: str = "img") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(shape_image(kind, 16, RNG)).save(folder / f"{stem}_{i}.png")


def _bomb_png(path: Path, width: int = 20000, height: int = 20000) -> None:
    """A small PNG whose header claims a huge image, as decompression bombs do."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    ihdr = 8 + 8  # signature, then length and type of the IHDR chunk
    data[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12:ihdr + 13]))
    data[ihdr + 13:ihdr + 17] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))


def _truncated(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray((RNG.random((40, 40, 3)) * 255).astype(np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]


@pytest.fixture
def messy_dataset(tmp_path: Path) -> Path:
    """Two usable classes full of odd but valid images, and every kind of bad file."""
    root = tmp_path / "messy data ✓"
    _good(root / "squares", 0, 12)
    _good(root / "bars é", 1, 12)
    odd = root / "squares"
    tifffile.imwrite(odd / "deep16.tif", (RNG.random((16, 16)) * 65535).astype(np.uint16))
    tifffile.imwrite(odd / "float.tif", RNG.random((16, 16)).astype(np.float32))
    Image.new("CMYK", (16, 16), (0, 50, 100, 0)).save(odd / "cmyk.jpg")
    Image.new("P", (16, 16)).save(odd / "palette.png")
    Image.new("LA", (16, 16)).save(odd / "grey-alpha.png")
    Image.new("RGBA", (16, 16), (255, 0, 0, 128)).save(odd / "rgba.png")
    Image.new("L", (1, 1), 200).save(odd / "one-pixel.png")
    rotated = Image.new("RGB", (24, 12))
    exif = rotated.getexif()
    exif[0x0112] = 6
    rotated.save(odd / "exif-rotated.jpg", exif=exif)
    Image.new("L", (16, 16)).save(odd / "png-named.jpg", format="PNG")  # wrong extension, readable
    bad = root / "bars é"
    (bad / "zero.png").write_bytes(b"")
    (bad / "cut.png").write_bytes(_truncated("PNG"))
    (bad / "cut.jpg").write_bytes(_truncated("JPEG"))
    (bad / "cut.tif").write_bytes(_truncated("TIFF"))
    (bad / "text.png").write_text("not an image at all")
    _bomb_png(bad / "bomb.png")
    (bad / ".hidden.png").write_bytes(b"junk")
    (bad / ".DS_Store").write_bytes(b"junk")
    (root / "__MACOSX").mkdir()
    (root / "__MACOSX" / "._x.png").write_bytes(b"junk")
    if os.name != "nt":
        os.symlink(bad, bad / "loop")
    return root


def test_messy_folder_trains_and_lists_every_bad_file(messy_dataset: Path, tiny_project) -> None:
    tiny_project.data.source = str(messy_dataset)
    result = train(tiny_project)
    assert result.status == "completed", result.reason
    report = json.loads((result.run_dir / "data_report.json").read_text())
    skipped = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    assert set(skipped) == {"zero.png", "cut.png", "cut.jpg", "cut.tif", "text.png", "bomb.png"}
    assert "empty" in skipped["zero.png"] and "bomb" in skipped["bomb.png"]
    assert "truncated" in skipped["cut.png"] or "damaged" in skipped["cut.png"]
    assert report["channels"] == "rgb"
    assert report["split_sizes"]["train"] + report["split_sizes"]["val"] + report["split_sizes"]["test"] == 33


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda root: root.mkdir(), "no usable images"),
        (lambda root: _good(root / "only", 0, 5), "only one class"),
        (lambda root: (root.mkdir(), (root / "a.txt").write_text("x")), "no usable images"),
    ],
    ids=["empty", "single-class", "no-images"],
)
def test_unusable_datasets_are_explained(tmp_path: Path, tiny_project, make, expected: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "data"
    make(root)
    tiny_project.data.source = str(root)
    project = tmp_path / "p.toml"
    save_config(tiny_project, project)
    assert main(["train", str(project)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_class_with_one_image_is_warned_about(tmp_path: Path, tiny_project) -> None:
    _good(tmp_path / "d" / "many", 0, 20)
    _good(tmp_path / "d" / "lonely", 1, 1)
    tiny_project.data.source = str(tmp_path / "d")
    result = train(tiny_project)
    assert result.status == "completed"
    warnings = json.loads((result.run_dir / "data_report.json").read_text())["warnings"]
    assert any("lonely (1 image(s))" in w for w in warnings)


@pytest.mark.parametrize(
    ("csv_text", "expected"),
    [
        ("name,class\nx.png,a\n", "lacks the column"),
        ("\ufeffpath,label\nsquares/img_0.png,a\nghost.png,b\n", "only one class"),
    ],
    ids=["missing-columns", "bom-and-unknown-file"],
)
def test_bad_csv_manifests(tmp_path: Path, csv_text: str, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    _good(tmp_path / "squares", 0, 2)
    manifest = tmp_path / "labels.csv"
    manifest.write_text(csv_text, encoding="utf-8")
    assert main(["init", str(manifest), "-o", str(tmp_path / "p.toml")]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_csv_with_duplicates_and_unknown_files_still_trains(tmp_path: Path, tiny_project) -> None:
    _good(tmp_path / "a", 0, 10)
    _good(tmp_path / "b", 1, 10)
    rows = ["path,label"] + [f"a/img_{i}.png,a" for i in range(10)] + [f"b/img_{i}.png,b" for i in range(10)]
    rows += ["a/img_0.png,a", "a/missing.png,a"]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    tiny_project.data.source = str(tmp_path / "m.csv")
    result = train(tiny_project)
    assert result.status == "completed"
    reasons = [s["reason"] for s in json.loads((result.run_dir / "data_report.json").read_text())["skipped"]]
    assert any("repeats" in r for r in reasons) and any("does not exist" in r for r in reasons)


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("colour = 'red'\n", "unknown setting"),
        ("[training]\nepochs = 'many'\n", "training.epochs"),
        ("schema_version = 99\n", "newer Workbench"),
        ("[training\n", "not valid TOML"),
    ],
    ids=["unknown-key", "wrong-type", "future-version", "broken-toml"],
)
def test_bad_project_files(tmp_path: Path, toml: str, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "p.toml"
    project.write_text(toml)
    assert main(["train", str(project)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
