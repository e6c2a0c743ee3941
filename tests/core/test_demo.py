"""`workbench demo` on the bundled digits reaches the promised test accuracy, offline."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.cli import main
from workbench.core.demo import write_digits_dataset


def test_digits_are_written_as_real_pngs(tmp_path: Path) -> None:
    root = write_digits_dataset(tmp_path / "digits")
    folders = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert folders[0] == "0_zero" and len(folders) == 10
    files = list(root.rglob("*.png"))
    assert len(files) == 1797
    image = np.asarray(Image.open(files[0]))
    assert image.shape == (8, 8) and image.dtype == np.uint8 and image.max() > 200


@pytest.mark.slow
def test_demo_reaches_097_test_accuracy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    accuracy = float(re.search(r"Test accuracy: ([0-9.]+)", out).group(1))
    assert accuracy >= 0.97, out
    assert "Run saved in:" in out and (tmp_path / "digits-demo.toml").exists()
