"""On-demand attribution maps of a finished run: the planted white pixel shows up in its class's map, the
evidence files are written where the training monitor writes them, and the test split is never used."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from tests.core.diag_fixtures import noise, small_config, write_classes
from tests.helpers import without_validation
from workbench.core.diagnostics import attribution_maps_for_run, load_attribution_maps, load_attribution_result
from workbench.core.evaluation.test_lock import read_ledger, summarize_test_uses

PIXEL = (4, 11)  # where every "marked" image carries its white pixel (paper, Fig. 5)
_CACHE: dict[str, Path] = {}


def marked_run(base: Path) -> Path:
    """A trained run whose class "marked" carries a fixed white pixel, in its training and validation images."""
    from workbench.core.training.engine import train

    rng = np.random.default_rng(0)

    def marked(n: int) -> list[np.ndarray]:
        images = noise(n, rng)
        for image in images:
            image[PIXEL] = 255
        return images

    root = base / "data"
    write_classes(root, {"marked": marked(150), "plain": noise(150, rng)}, split="train")
    write_classes(root, {"marked": marked(30), "plain": noise(30, rng)}, split="val")
    write_classes(root, {"marked": marked(5), "plain": noise(5, rng)}, split="test")
    config = small_config(root, base / "runs", epochs=10, lr=3e-3)
    config.data.layout = "presplit"
    config.diagnostics.enabled = False  # no maps from the training monitor: this test is about the on-demand ones
    result = train(config, monitors=[])
    assert result.status == "completed" and result.run_dir is not None
    return result.run_dir


@pytest.fixture
def run_dir(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    """A private copy of the marked run (trained once per process)."""
    import shutil

    if "run" not in _CACHE:
        _CACHE["run"] = marked_run(tmp_path_factory.mktemp("marked"))
    target = tmp_path / "runs" / _CACHE["run"].name
    shutil.copytree(_CACHE["run"], target, ignore=shutil.ignore_patterns("cache", "runs.sqlite*"))
    return target


def test_maps_for_a_run_find_the_planted_pixel_and_are_saved(run_dir: Path) -> None:
    from workbench.core.data.cache import clear_cache

    assert load_attribution_maps(run_dir) is None
    clear_cache()  # decode afresh (not from training's cache), so the reading stage reports progress too
    stages: list[tuple[str, int, int]] = []
    result = attribution_maps_for_run(run_dir, max_per_class=8, progress=lambda s, d, t: stages.append((s, d, t)))

    assert result.class_names == ["marked", "plain"] and result.split == "val"
    assert result.maps.shape == (2, 16, 16) and np.allclose(result.maps.sum(axis=(1, 2)), 1.0, atol=1e-4)
    assert result.mean_images is not None and result.mean_images.shape == (2, 16, 16, 1)
    assert result.mean_images[0][PIXEL] == pytest.approx(1.0)  # every marked image has the white pixel
    peak = np.unravel_index(int(np.argmax(result.maps[0])), result.maps[0].shape)
    assert abs(peak[0] - PIXEL[0]) <= 1 and abs(peak[1] - PIXEL[1]) <= 1, peak
    assert {f.code for f in result.findings} == {"shortcut-region"}
    assert result.finding_for("marked") is not None and result.finding_for("plain") is None
    assert {s for s, _, _ in stages} == {"Reading the validation images", "Computing attributions"}
    assert ("Computing attributions", 2, 2) in stages

    folder = run_dir / "diagnostics"
    for name in ("attribution_maps.npy", "attribution_maps.txt", "attribution_maps.png", "attribution_images.npy",
                 "attribution_report.json"):
        assert (folder / name).is_file(), name
    names, maps = load_attribution_maps(run_dir)
    assert names == result.class_names and np.allclose(maps, result.maps)
    again = load_attribution_result(run_dir)
    assert again is not None and again.method == result.method and again.split == "val"
    assert [f.code for f in again.findings] == ["shortcut-region"] and again.mean_images is not None


def test_maps_use_validation_images_only_and_never_count_as_a_test_use(run_dir: Path) -> None:
    from workbench.core.runs import read_json

    attribution_maps_for_run(run_dir, max_per_class=4)
    with (run_dir / "split.csv").open(encoding="utf-8", newline="") as handle:
        split_of = {row["path"]: row["split"] for row in csv.DictReader(handle)}
    used = read_json(run_dir / "diagnostics" / "attribution_report.json")["images"]
    assert used and {split_of[p] for p in used} == {"val"}
    assert summarize_test_uses(run_dir)["run_uses"] == 0
    assert read_ledger() == []
    assert "test_evaluations" not in (read_json(run_dir / "run.json", {}) or {})


def test_monitor_files_load_with_their_findings_from_findings_json(run_dir: Path) -> None:
    """Maps the training monitor left (no report beside them) load, with the shortcut findings of findings.json."""
    from workbench.core.runs import write_json

    folder = run_dir / "diagnostics"
    folder.mkdir(exist_ok=True)
    np.save(folder / "attribution_maps.npy", np.full((2, 4, 4), 1 / 16, np.float32))
    (folder / "attribution_maps.txt").write_text("marked\nplain\n", encoding="utf-8")
    write_json(run_dir / "findings.json", {"findings": [
        {"code": "shortcut-region", "severity": "problem", "title": "t", "explanation": "e", "evidence": {"class": "marked"}},
        {"code": "overfitting", "severity": "warning", "title": "o", "explanation": "x", "evidence": {}},
    ]})
    result = load_attribution_result(run_dir)
    assert result is not None and result.split == "train" and result.mean_images is None
    assert [f.code for f in result.findings] == ["shortcut-region"] and result.finding_for("marked") is not None
    (folder / "attribution_maps.txt").write_text("only-one\n", encoding="utf-8")
    assert load_attribution_maps(run_dir) is None  # names and maps disagree: treated as absent, not shown wrong


def test_a_run_without_validation_images_is_refused(run_dir: Path) -> None:
    from workbench.core.config import ConfigError

    without_validation(run_dir)
    with pytest.raises(ConfigError, match="no validation images"):
        attribution_maps_for_run(run_dir)


def test_cli_attributions_prints_the_shortcut_and_fails_on_it(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli import main

    assert main(["attributions", str(run_dir), "--per-class", "8"]) == 1
    out = capsys.readouterr().out
    assert "on validation images, saved in" in out and "[PROBLEM]" in out and "'marked'" in out
    assert (run_dir / "diagnostics" / "attribution_maps.npy").is_file()
    assert main(["attributions", str(run_dir / "missing")]) == 2  # a readable error, not a traceback
    assert "workbench: error:" in capsys.readouterr().err
