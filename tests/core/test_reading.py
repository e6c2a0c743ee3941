"""Image reading: every common format, bit depth and mode, and clear reasons for bad files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from workbench.core.data import reading
from workbench.core.data.reading import ImageReadError, read_image

RNG = np.random.default_rng(0)


def _save(image: Image.Image, path: Path, **kw) -> Path:
    image.save(path, **kw)
    return path


@pytest.mark.parametrize(
    ("mode", "suffix", "channels", "dtype"),
    [("L", ".png", 1, np.uint8), ("RGB", ".png", 3, np.uint8), ("RGBA", ".png", 3, np.uint8),
     ("LA", ".png", 1, np.uint8), ("P", ".png", 3, np.uint8), ("RGB", ".jpg", 3, np.uint8),
     ("CMYK", ".jpg", 3, np.uint8), ("RGB", ".bmp", 3, np.uint8), ("L", ".tif", 1, np.uint8),
     ("1", ".png", 1, np.uint8)],
)
def test_pillow_modes(tmp_path: Path, mode: str, suffix: str, channels: int, dtype) -> None:
    base = Image.fromarray((RNG.random((12, 10, 3)) * 255).astype(np.uint8), "RGB")
    image = base.convert(mode)
    array = read_image(_save(image, tmp_path / f"x{suffix}"))
    assert array.shape == (12, 10, channels) and array.dtype == dtype


def test_sixteen_bit_png_and_tiff_keep_their_depth(tmp_path: Path) -> None:
    data = (RNG.random((9, 7)) * 60000).astype(np.uint16)
    png = tmp_path / "deep.png"
    Image.fromarray(data).save(png)
    assert read_image(png).dtype == np.uint16
    assert int(read_image(png).max()) == int(data.max())
    tif = tmp_path / "deep.tif"
    tifffile.imwrite(tif, data)
    np.testing.assert_array_equal(read_image(tif)[:, :, 0], data)


def test_float_and_rgb_tiff(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "f.tif", RNG.random((5, 6)).astype(np.float32))
    assert read_image(tmp_path / "f.tif").dtype == np.float32
    tifffile.imwrite(tmp_path / "planar.tif", (RNG.random((3, 8, 9)) * 255).astype(np.uint8), photometric="rgb",
                     planarconfig="separate")
    assert read_image(tmp_path / "planar.tif").shape == (8, 9, 3)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    image = Image.new("RGB", (20, 10), "white")
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° on display
    path = tmp_path / "rot.jpg"
    image.save(path, exif=exif)
    assert read_image(path).shape[:2] == (20, 10)


def test_alpha_is_composited_over_white(tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    path = _save(Image.fromarray(rgba, "RGBA"), tmp_path / "t.png")
    assert read_image(path).min() == 255


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "empty"), (b"hello, I am text", "not an image")],
)
def test_bad_files_give_reasons(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=reason):
        read_image(path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF"])
def test_truncated_files_are_refused(tmp_path: Path, fmt: str) -> None:
    buffer = io.BytesIO()
    Image.fromarray((RNG.random((64, 64, 3)) * 255).astype(np.uint8)).save(buffer, format=fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageReadError):
        read_image(path)


def test_decompression_bomb_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(Image.new("L", (300, 300)), tmp_path / "big.png")
    monkeypatch.setattr(reading, "MAX_PIXELS", 10_000)
    with pytest.raises(ImageReadError, match="limit"):
        read_image(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="cannot be opened"):
        read_image(tmp_path / "nope.png")
