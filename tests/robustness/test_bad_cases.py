"""The bad cases of issue 17, each reproduced by a test (written first, seen to fail, then fixed).

Case 5 (project name as a path) and case 6 (`--epochs`) are in test_config_changes.py; case 7 (test files
present at evaluation) belongs to the test-set ledger's tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


# --- case 4: class order must not depend on Python's hash seed -----------------------------------

_SCAN = """
import json, sys
from workbench.core.data.discovery import scan_dataset
from workbench.core.data.splits import splits_for
from workbench.core.config import DataConfig
scan = scan_dataset(sys.argv[1])
splits = splits_for(scan.samples, scan.labels(), DataConfig(seed=3))
print(json.dumps({"classes": scan.classes, "files": [s.path for s in scan.samples],
                  "test": [scan.samples[i].path for i, s in enumerate(splits) if s == "test"]}))
"""


def test_class_order_is_the_same_under_every_hash_seed(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    names = ["Cat", "cat", "c1", "c01", "CAT", "c001", "b2", "B2"]
    for k, name in enumerate(names):
        (tmp_path / name).mkdir()
        for i in range(6):
            pixels = np.clip(rng.normal(40 + 20 * k, 10, (8, 8)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / name / (f"x{i}.png" if i % 2 else f"x0{i}.png"))
    outputs = set()
    for seed in ("0", "1", "2", "3", "4", "5"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        done = subprocess.run([sys.executable, "-c", _SCAN, str(tmp_path)], env=env, capture_output=True,
                              text=True, timeout=120, check=True)
        outputs.add(done.stdout)
    assert len(outputs) == 1, "class order, file order or test split changed with PYTHONHASHSEED"
    classes = json.loads(outputs.pop())["classes"]
    assert classes == ["B2", "b2", "c001", "c01", "c1", "CAT", "Cat", "cat"]


# --- case 1: mixed bit depths map to one range, each by its own depth ----------------------------

def _grey_files(folder: Path, grey: int = 128) -> list[Path]:
    """The same mid-grey saved at 8 bits, 16 bits and as float, plus a real photograph at 8 bits."""
    from skimage import data as skdata

    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((10, 10), grey, np.uint8)).save(folder / "grey8.png")
    tifffile.imwrite(folder / "grey16.tif", np.full((10, 10), grey * 257, np.uint16))
    tifffile.imwrite(folder / "greyf.tif", np.full((10, 10), grey / 255, np.float32))
    Image.fromarray(skdata.camera()[::32, ::32]).save(folder / "camera.png")
    return [folder / n for n in ("grey8.png", "grey16.tif", "greyf.tif", "camera.png")]


def test_mixed_bit_depths_read_as_the_same_values(tmp_path: Path) -> None:
    from workbench.core.config import PreprocessingConfig
    from workbench.core.data.cache import decode_dataset
    from workbench.core.data.discovery import Sample

    files = _grey_files(tmp_path)
    images = decode_dataset([Sample(str(f), "x") for f in files], PreprocessingConfig(image_size=8), reuse=False)
    scaled = np.asarray(images.array, dtype=np.float64) / images.value_scale
    np.testing.assert_allclose(scaled[:3].mean(axis=(1, 2, 3)), [128 / 255] * 3, atol=1e-4)
    assert scaled[3].min() >= 0.0 and scaled[3].max() <= 1.0, "the 8-bit photograph is scaled by 255, not left raw"


def test_a_float_tiff_does_not_change_the_predictions_of_the_pngs(trained_run: Path, tmp_path: Path,
                                                                  shapes_dataset: Path) -> None:
    from workbench.core.evaluation.predict import load_model, predict_files

    run = load_model(trained_run, device="cpu")
    pngs = sorted((shapes_dataset / "square").glob("*.png"))[:6] + sorted((shapes_dataset / "hbar").glob("*.png"))[:6]
    alone, _ = predict_files(run, pngs)
    tifffile.imwrite(tmp_path / "extra.tif", np.full((16, 16), 0.3, np.float32))
    mixed, _ = predict_files(run, [*pngs, tmp_path / "extra.tif"])
    assert [p.predicted for p in alone] == [p.predicted for p in mixed[:12]]
    np.testing.assert_allclose([p.confidence for p in alone], [p.confidence for p in mixed[:12]], atol=1e-5)


# --- case 2: integer TIFFs wider than 16 bits, or signed, keep their values -----------------------

def test_signed_ct_like_tiff_keeps_its_negative_values(tmp_path: Path) -> None:
    from workbench.core.data.reading import read_image

    ct = np.array([[-1000, -500, 0], [40, 1000, 3000]], np.int16)
    tifffile.imwrite(tmp_path / "ct.tif", ct)
    notes: list[str] = []
    array = read_image(tmp_path / "ct.tif", notes=notes)
    assert array.dtype == np.uint16
    np.testing.assert_array_equal(array[:, :, 0].astype(np.int64) - 32768, ct)
    assert notes == ["int16 pixel values were shifted by 32,768 into 0–65,535 (the full int16 range), "
                     "so negative values are kept"]


def test_uint32_tiff_is_scaled_by_its_dtype_or_its_data_range(tmp_path: Path) -> None:
    from workbench.core.data.reading import read_image

    wide = np.array([[0, 2**31, 2**32 - 1]], np.uint32)
    tifffile.imwrite(tmp_path / "wide.tif", wide)
    notes: list[str] = []
    array = read_image(tmp_path / "wide.tif", notes=notes)[:, :, 0]
    np.testing.assert_array_equal(array, [[0, 32768, 65535]])
    assert notes == ["uint32 pixel values were scaled from the full uint32 range to 0–65,535"]
    narrow = np.array([[0, 1200, 4095]], np.uint32)  # 12-bit data stored in 32 bits
    tifffile.imwrite(tmp_path / "narrow.tif", narrow)
    notes = []
    np.testing.assert_array_equal(read_image(tmp_path / "narrow.tif", notes=notes)[:, :, 0], narrow)
    assert notes == ["uint32 pixel values all fit in 16 bits (0–4,095) and were kept as they are"]


# --- case 8: a zip bomb in a bundle is refused before it is inflated -----------------------------

def _bomb_bundle(path: Path, inflated: int = 64 * 1024**2) -> Path:
    """A small .wbmodel whose weights member inflates from ~64 KB to `inflated` bytes of zeros."""
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("manifest.json", b'{"format": "workbench-model"}')
        with archive.open(zipfile.ZipInfo("model.safetensors"), "w", force_zip64=True) as member:
            block = bytes(1024**2)
            for _ in range(inflated // len(block)):
                member.write(block)
    with zipfile.ZipFile(path) as archive:  # the writer stored it: recompress as a bomb would be
        data = {i.filename: archive.read(i) for i in archive.infolist()}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, blob in data.items():
            archive.writestr(name, blob)
    return path


def test_zip_bomb_bundle_is_refused_without_inflating_it(tmp_path: Path) -> None:
    import tracemalloc

    from workbench.core.export.bundle import read_bundle
    from workbench.core.export.bundle_safety import BundleError

    bomb = _bomb_bundle(tmp_path / "bomb.wbmodel")
    assert bomb.stat().st_size < 1024**2
    tracemalloc.start()
    try:
        with pytest.raises(BundleError) as error:
            read_bundle(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "bundle member model.safetensors inflates" in str(error.value)
    assert "times its compressed size" in str(error.value) and "refused" in str(error.value)
    assert peak < 8 * 1024**2, f"peaked at {peak / 1024**2:.0f} MiB while refusing"


def test_bundle_member_that_inflates_past_its_declared_size_is_refused(tmp_path: Path) -> None:
    import struct
    import zipfile

    from workbench.core.export.bundle import read_bundle
    from workbench.core.export.bundle_safety import BundleError

    path = tmp_path / "liar.wbmodel"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", b"{" + b" " * 200_000 + b"}")
    raw = bytearray(path.read_bytes())
    central = raw.rfind(b"PK\x01\x02")  # the central directory entry: claim 100 bytes uncompressed
    raw[central + 24:central + 28] = struct.pack("<I", 100)
    local = raw.find(b"PK\x03\x04")
    raw[local + 22:local + 26] = struct.pack("<I", 100)
    path.write_bytes(bytes(raw))
    with pytest.raises(BundleError) as error:
        read_bundle(path)
    assert str(error.value) == ("bundle member manifest.json cannot be read (Bad CRC-32 for file 'manifest.json'): "
                                "the bundle is damaged or crafted and was refused. Export it again from the run")


# --- case 3: memory is bounded by decoded bytes, not by pixels ------------------------------------

def test_huge_decoded_images_stay_within_the_decode_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tracemalloc

    from workbench.core.config import PreprocessingConfig
    from workbench.core.data import memory
    from workbench.core.data.cache import decode_dataset
    from workbench.core.data.discovery import Sample

    ramp = np.linspace(0, 65535, 2400, dtype=np.float64)
    rgba = np.empty((2400, 2400, 4), np.uint16)  # 46 MB decoded, a few hundred KB on disk
    rgba[..., 0], rgba[..., 1] = ramp[None, :], ramp[:, None]
    rgba[..., 2], rgba[..., 3] = 30000, 65535
    for name in ("a.tif", "b.tif"):
        tifffile.imwrite(tmp_path / name, rgba, photometric="rgb", extrasamples=["unassalpha"], compression="zlib")
    del rgba
    samples = [Sample(str(tmp_path / n), "x") for n in ("a.tif", "b.tif")]
    cfg = PreprocessingConfig(image_size=8, channels="rgb")
    whole = decode_dataset(samples[:1], cfg, reuse=False).array.astype(np.float64)  # the default 1 GiB budget
    budget = 24 * 1024**2
    monkeypatch.setattr(memory, "DECODE_BUDGET_BYTES", budget)
    tracemalloc.start()
    try:
        images = decode_dataset(samples, cfg, reuse=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < budget, f"decoding peaked at {peak / 1024**2:.0f} MiB over a {budget / 1024**2:.0f} MiB budget"
    np.testing.assert_allclose(images.array[0].astype(np.float64), whole[0], atol=0.01 * 65535)
    assert any("reduced while reading" in n and n.startswith("2 image(s)") for n in images.notes), images.notes


def test_huge_png_and_jpeg_are_reduced_while_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from skimage import data as skdata

    from workbench.core.data import memory
    from workbench.core.data.reading import read_image

    photo = np.kron(skdata.astronaut(), np.ones((6, 6, 1), np.uint8))  # 3072×3072 RGB, 27 MiB decoded
    Image.fromarray(photo).save(tmp_path / "big.png")
    Image.fromarray(photo).save(tmp_path / "big.jpg", quality=90)
    whole = read_image(tmp_path / "big.png")
    assert whole.shape == (3072, 3072, 3)
    monkeypatch.setattr(memory, "DECODE_BUDGET_BYTES", 12 * 1024**2)  # per-image cap 2 MiB
    for name in ("big.png", "big.jpg"):
        notes: list[str] = []
        small = read_image(tmp_path / name, notes=notes, target_side=32)
        assert small.nbytes <= 2 * 1024**2 and small.shape[0] >= 4 * 32, (name, small.shape)
        assert notes and "reduced while reading" in notes[0]
        factor = 3072 // small.shape[0]
        reference = whole[: small.shape[0] * factor, : small.shape[1] * factor].reshape(
            small.shape[0], factor, small.shape[1], factor, 3).mean(axis=(1, 3))
        assert np.abs(small.astype(np.float64) - reference).mean() < 6, name  # the same picture, only smaller
