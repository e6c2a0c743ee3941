"""The decoded images of a dataset are kept on disk, so a later process skips decoding the same files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import write_digits_dataset
from workbench.core.config import PreprocessingConfig
from workbench.core.data import cache as cache_module
from workbench.core.data import decoded_store
from workbench.core.data.discovery import Sample


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    cache_module.clear_cache()
    yield decoded_store.store_folder()
    cache_module.clear_cache()


def _samples(root: Path) -> list[Sample]:
    """Real digit scans, plus one file that is not an image."""
    (root / "digit_0" / "broken.png").write_bytes(b"not a png")
    return [Sample(str(p), p.parent.name) for p in sorted(root.rglob("*.png"))]


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = cache_module.read_image

    def counting(path, **kwargs):
        calls.append(str(path))
        return real(path, **kwargs)

    monkeypatch.setattr(cache_module, "read_image", counting)
    return calls


def test_a_second_process_reads_the_stored_images_instead_of_decoding(store: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    samples = _samples(write_digits_dataset(tmp_path / "digits"))
    cfg = PreprocessingConfig(image_size=12)
    first = cache_module.decode_dataset(samples, cfg)
    assert len(list(store.iterdir())) == 1

    cache_module.clear_cache()  # as a new process would start
    reads = _count_reads(monkeypatch)
    progress: list[tuple[int, int]] = []
    second = cache_module.decode_dataset(samples, cfg, progress=lambda d, t: progress.append((d, t)))
    assert reads == []
    np.testing.assert_array_equal(second.array, first.array)
    assert second.kept == first.kept and second.channels == first.channels
    assert [f.path for f in second.failed] == [f.path for f in first.failed] == [str(tmp_path / "digits" / "digit_0" / "broken.png")]
    assert progress[-1] == (len(samples), len(samples))


def test_an_edited_file_or_other_settings_decode_afresh(store: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    samples = _samples(write_digits_dataset(tmp_path / "digits"))
    cfg = PreprocessingConfig(image_size=12)
    cache_module.decode_dataset(samples, cfg)
    cache_module.clear_cache()
    reads = _count_reads(monkeypatch)
    cache_module.decode_dataset(samples, PreprocessingConfig(image_size=10))
    assert len(reads) == len(samples)

    edited = Path(samples[3].path)
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(edited)
    cache_module.clear_cache()
    reads.clear()
    again = cache_module.decode_dataset(samples, cfg)
    assert len(reads) == len(samples)
    assert again.array[again.kept.index(3)].min() == 255  # the edit is seen, not the stored copy


def test_a_damaged_entry_is_decoded_afresh_and_replaced(store: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    samples = _samples(write_digits_dataset(tmp_path / "digits"))
    cfg = PreprocessingConfig(image_size=12)
    first = cache_module.decode_dataset(samples, cfg)
    [entry] = list(store.iterdir())
    (entry / "images.npy").write_bytes(b"truncated")
    cache_module.clear_cache()
    second = cache_module.decode_dataset(samples, cfg)
    np.testing.assert_array_equal(second.array, first.array)
    assert np.load(entry / "images.npy").shape == first.array.shape


def test_the_store_keeps_within_its_size_limit(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    samples = _samples(write_digits_dataset(tmp_path / "digits"))
    one = cache_module.decode_dataset(samples, PreprocessingConfig(image_size=16)).array.nbytes
    monkeypatch.setenv("WORKBENCH_DECODED_CACHE_GB", str(1.5 * (one + 4096) / 1024**3))
    cache_module.decode_dataset(samples, PreprocessingConfig(image_size=16, resize_mode="letterbox"))
    assert len(list(store.iterdir())) == 1  # the older entry made room
