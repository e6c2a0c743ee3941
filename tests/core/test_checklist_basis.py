"""Every checklist status names the number it rests on (issue 14, "evidence before a pass"), on real images."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.core.diag_fixtures import digits, small_config, write_classes
from workbench.core.checklist import NO_NUMBER, item_statuses, status_line
from workbench.core.data.pipeline import prepare_data
from workbench.core.diagnostics import run_data_checks
from workbench.core.diagnostics.findings import WARNING
from workbench.core.diagnostics.label_issues import labels_look_right, too_weak_to_judge


def _digits(root: Path, tile: int = 1, per_class: int = 40) -> Path:
    """Real digit scans (8 px) as 32-px images: enlarged 4× (shape at full scale), or as a tile×tile mosaic of
    themselves enlarged 4 // tile × (the class difference then lies in detail a tile-th of the picture wide)."""
    images = digits((0, 1, 2, 3), per_class)
    grow = np.ones((4 // tile, 4 // tile), np.uint8)
    return write_classes(root, {c: [np.tile(np.kron(im, grow), (tile, tile)) for im in items]
                                for c, items in images.items()})


def test_passing_data_checks_name_their_numbers_on_real_digits(tmp_path: Path) -> None:
    config = small_config(_digits(tmp_path / "data"), tmp_path / "runs")  # 32-px images at a 16-px input
    prepared = prepare_data(config)
    found = run_data_checks(prepared, config, checks=["input_size", "normalisation", "duplicates"])
    rows = item_statuses(found, {"data"})
    assert {n: rows[n].status for n in (1, 2, 3)} == {1: "passed", 2: "passed", 3: "passed"}
    one, two, three = (status_line(rows[n]) for n in (1, 2, 3))
    # Item 1: the texture classifier's balanced accuracy at 16 px against the originals', and what was lost.
    kept = next(f for f in found if f.code == "input-size-kept").evidence
    assert one.startswith("passed: input 16 px: a quick texture classifier keeps balanced accuracy "
                          f"{kept['class_separability_resized']:.2f} against {kept['class_separability_original']:.2f}")
    assert kept["class_separability_original"] - kept["class_separability_resized"] < 0.15
    # Item 2: the z-scored input has mean ~0 and std ~1 on the training images.
    norm = next(f for f in found if f.code == "input-normalised").evidence
    assert abs(norm["input_mean"]) < 0.1 and abs(norm["input_std"] - 1) < 0.1
    assert two.startswith(f"passed: z-score from the training split: input mean {norm['input_mean']:.2f}, "
                          f"std {norm['input_std']:.2f}")
    assert three == f"passed: 0 duplicate pairs among {len(prepared.labels)} images"  # 160 distinct scans
    assert len(prepared.labels) == 160


def test_a_pass_no_check_backed_with_a_number_says_so() -> None:
    rows = item_statuses([], {"data", "run"})
    assert rows[1].status == "passed" and rows[1].basis == [NO_NUMBER]
    assert status_line(rows[6]) == "not checked"
    warned = item_statuses([{"code": "class-imbalance", "severity": "warning", "title": "Classes are imbalanced",
                             "evidence": {"ratio": 20.0}}], {"data"})
    assert status_line(warned[3]) == "warning: Classes are imbalanced"


def test_input_size_warns_when_it_erases_the_fine_detail_of_real_digits(tmp_path: Path) -> None:
    """Digits as a 4×4 mosaic of themselves (32 px): at a 4-px input each pixel averages one whole digit, so
    the shape is gone; at 16 px it is kept. The rule: balanced accuracy lost ≥ 0.15 while the originals are
    clearly separable (≥ chance + 0.25)."""
    config = small_config(_digits(tmp_path / "data", tile=4), tmp_path / "runs")
    prepared = prepare_data(config)
    config.preprocessing.image_size = 4
    (lost,) = run_data_checks(prepared, config, checks=["input_size"])
    assert lost.code == "input-size-loses-detail" and lost.severity == WARNING
    before, after = lost.evidence["class_separability_original"], lost.evidence["class_separability_resized"]
    assert before >= 0.85 and after <= 0.5 and before - after >= 0.3  # chance is 0.25
    config.preprocessing.image_size = 16
    (kept,) = run_data_checks(prepare_data(config), config, checks=["input_size"])
    assert kept.code == "input-size-kept" and kept.evidence["verdict"] == "passed"


def test_after_training_the_label_check_says_when_the_model_is_too_weak_to_judge() -> None:
    labels = np.repeat(np.arange(4), 25)
    note = too_weak_to_judge(0.5, 0.85)
    assert note.severity == "info" and note.evidence["basis"] == (
        "labels checked after training: the model is not strong enough to judge labels (balanced accuracy 0.50 < 0.85)")
    assert "accusing" not in note.explanation
    strong = np.eye(4)[labels] * 0.9 + 0.025
    passed = labels_look_right(labels, strong)
    assert passed.evidence["verdict"] == "passed"
    assert passed.evidence["basis"].startswith("labels checked after training: the network (balanced accuracy 1.00")
