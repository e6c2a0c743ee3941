"""`workbench lr-find` and `workbench doctor`, run in-process on tiny generated datasets."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.core.diag_fixtures import bars, noise, small_config, write_classes
from workbench.cli import lr_table_lines, main
from workbench.core.config import load_config, save_config

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

SUGGESTED = re.compile(r"Suggested learning rate: ([0-9.e+-]+)")


@pytest.fixture
def relative_project(tiny_project, shapes_dataset: Path, tmp_path: Path) -> Path:
    """The tiny project saved with its dataset path relative to the project file, as a user's portable project."""
    tiny_project.data.source = os.path.relpath(shapes_dataset, tmp_path)
    tiny_project.runs_dir = "runs"
    path = tmp_path / "project.toml"
    save_config(tiny_project, path)
    return path


def test_lr_find_prints_a_suggestion_in_the_tested_range_and_changes_nothing(
        relative_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.core.data.cache import clear_cache

    clear_cache()  # the last decoded dataset is kept in memory; this test watches the decoding stage too
    before = relative_project.read_bytes()
    assert main(["lr-find", str(relative_project), "--steps", "20", "--start", "1e-5", "--end", "1"]) == 0
    captured = capsys.readouterr()
    suggested = float(SUGGESTED.search(captured.out).group(1))
    assert 1e-5 <= suggested <= 1.0
    assert "current: 0.003" in captured.out and "<- suggested" in captured.out
    rows = [line for line in captured.out.splitlines() if re.match(r"\s+\d\.\d\de[+-]\d\d\s+\d", line)]
    assert 10 <= len(rows) <= 15, rows  # a compact view, not one row per step
    assert "Reading images" in captured.err and "Testing rates" in captured.err
    assert relative_project.read_bytes() == before, "without --apply the project file is untouched"
    assert not (relative_project.parent / "runs").exists(), "the test writes no run"


def test_lr_find_apply_writes_the_suggestion_and_plot_writes_a_png(
        relative_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plot = tmp_path / "out" / "curve.png"
    assert main(["lr-find", str(relative_project), "--steps", "20", "--apply", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    suggested = float(SUGGESTED.search(out).group(1))
    assert f"training.lr 0.003 → {suggested:g}" in out  # the change is named, as a recorded fix
    assert [r.code for r in load_config(relative_project).diagnostics.applied_fixes] == ["lr-range-test"]
    assert load_config(relative_project).training.lr == pytest.approx(suggested)
    assert suggested != pytest.approx(0.003), "the tiny project's loss keeps falling past 0.003; a change is expected"
    raw = tomllib.loads(relative_project.read_text(encoding="utf-8"))
    assert not Path(raw["data"]["source"]).is_absolute(), "applying keeps the dataset path relative"
    with Image.open(plot) as image:
        assert image.format == "PNG" and image.width > 300 and image.height > 200


def test_lr_find_errors_are_one_line(relative_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lr-find", str(relative_project), "--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert "at least 5 steps" in err and "Traceback" not in err
    assert main(["lr-find", str(relative_project), "--start", "1", "--end", "0.1"]) == 2
    assert "0 < start < end" in capsys.readouterr().err
    empty = tmp_path / "empty.toml"
    save_config(load_config(relative_project).model_copy(update={"data": load_config(relative_project).data.model_copy(
        update={"source": ""})}), empty)
    assert main(["lr-find", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "no dataset" in err and err.count("\n") == 1


def test_lr_table_marks_the_suggested_and_current_rows() -> None:
    lrs = np.geomspace(1e-6, 1.0, 60)
    losses = 2.0 - 0.5 * np.tanh(np.log10(lrs) + 2)  # falls around 1e-2
    lines = lr_table_lines(lrs, losses, suggested=1e-2, current=1e-4, rows=12)
    assert len(lines) == 13
    marked = {line.split()[0]: line for line in lines if "<-" in line}
    assert any("suggested 0.01" in line for line in marked.values())
    assert any("current 0.0001" in line for line in marked.values())
    bars_ = [line.split()[2] for line in lines[1:]]
    assert len(bars_[0]) > len(bars_[-1]), "the highest loss gets the longest bar"


def _write_project(config, tmp_path: Path) -> Path:
    path = tmp_path / "project.toml"
    save_config(config, path)
    return path


def test_doctor_lists_duplicates_across_splits_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(3)
    root = tmp_path / "data"
    write_classes(root, {"a": noise(30, rng), "b": noise(30, rng)}, split="train")
    write_classes(root, {"a": noise(10, rng), "b": noise(10, rng)}, split="test")
    for i in range(5):  # exact copies of training images in the test split: a leak
        shutil.copy(root / "train" / "a" / f"a_{i:04d}.png", root / "test" / "a" / f"copy_{i}.png")
    config = small_config(root, tmp_path / "runs")
    config.data.layout = "presplit"
    report = tmp_path / "findings.json"
    assert main(["doctor", str(_write_project(config, tmp_path)), "--json", str(report)]) == 1
    out = capsys.readouterr().out
    blocks = [b for b in out.split("\n\n") if b.startswith("[")]
    assert blocks[0].startswith("[PROBLEM]"), "worst first"
    assert re.search(r"Data checks of .*: [1-9][0-9]* problem\(s\)", out)
    saved = json.loads(report.read_text(encoding="utf-8"))["findings"]
    duplicates = [f for f in saved if f["code"] == "duplicates-across-splits"]
    assert duplicates and duplicates[0]["severity"] == "problem"
    assert duplicates[0]["title"] in out and "Fix:" in out
    assert duplicates[0]["evidence"]["pair_count"] >= 5


def test_doctor_on_usable_data_passes_and_prints_the_one_click_fix(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(5)
    root = write_classes(tmp_path / "data", {"common": bars(200, True, rng), "rare": bars(10, False, rng)})
    config = small_config(root, tmp_path / "runs")
    config.diagnostics.label_check = False  # the label check has its own tests; keep this one quick
    assert main(["doctor", str(_write_project(config, tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "0 problem(s)" in out and "[WARNING]" in out
    assert "set training.class_weighting = true" in out
    assert not list(tmp_path.glob("*.json")), "without --json nothing is written"
