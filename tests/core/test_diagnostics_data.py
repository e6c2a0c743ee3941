"""Data checks on planted faults: each fault must raise its finding, and the fixes must apply."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.core.diag_fixtures import bars, bars_dataset, codes, digits, noise, save_png, small_config, stripes, write_classes
from workbench.core.data.pipeline import prepare_data
from workbench.core.diagnostics import apply_patch, label_issue_findings, run_data_checks
from workbench.core.diagnostics.findings import INFO, PROBLEM, WARNING
from workbench.core.diagnostics.hashing import dhash, hamming, phash


def _checks(config, names, **kwargs):
    return run_data_checks(prepare_data(config), config, checks=names, **kwargs)


def test_raw_unnormalised_input_is_a_problem(tmp_path: Path) -> None:
    config = small_config(bars_dataset(tmp_path / "data"), tmp_path / "runs")
    config.preprocessing.normalization = "none"
    findings = _checks(config, ["normalisation"])
    assert codes(findings) == {"input-not-normalised": PROBLEM}
    fixed = apply_patch(config, findings[0].patch)
    assert fixed.preprocessing.normalization == "zscore"
    (passed,) = _checks(fixed, ["normalisation"])  # a pass that names its numbers
    assert passed.code == "input-normalised" and passed.evidence["verdict"] == "passed"
    assert passed.evidence["basis"].startswith("z-score from the training split: input mean")


def test_images_with_different_ranges_are_flagged(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    dim = [np.clip(b.astype(float) * 50 / 255, 0, 255).astype(np.uint8) for b in bars(30, True, rng)]
    images = {"horizontal": bars(30, True, rng) + dim, "vertical": bars(30, False, rng) + dim[:10]}
    config = small_config(write_classes(tmp_path / "data", images), tmp_path / "runs")
    found = codes(_checks(config, ["intensity_ranges"]))
    assert found == {"inconsistent-intensity-ranges": WARNING}
    clean = small_config(bars_dataset(tmp_path / "clean"), tmp_path / "runs")
    assert _checks(clean, ["intensity_ranges"]) == []


def test_mixed_bit_depths_are_flagged(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    root = bars_dataset(tmp_path / "data", per_class=20)
    for i, image in enumerate(bars(10, True, rng)):
        save_png(root / "horizontal" / f"deep_{i}.png", image.astype(np.uint16) * 257)
    config = small_config(root, tmp_path / "runs")
    assert codes(_checks(config, ["bit_depths"])) == {"mixed-bit-depths": WARNING}


def test_flipped_labels_are_found_by_cleanlab(tmp_path: Path) -> None:
    images = digits((0, 1, 3, 7), 80)
    rng = np.random.default_rng(0)
    names = sorted(images)
    relabelled: dict[str, list[np.ndarray]] = {n: [] for n in names}
    flipped_paths = set()
    for name in names:
        for image in images[name]:
            target = name
            if rng.random() < 0.2:  # about 20% of the labels are wrong
                target = names[(names.index(name) + rng.integers(1, len(names))) % len(names)]
            relabelled[target].append((image, target != name))
    root = tmp_path / "data"
    for name, items in relabelled.items():
        for i, (image, wrong) in enumerate(items):
            path = save_png(root / name / f"{'flip' if wrong else 'ok'}_{i:03d}.png", image)
            if wrong:
                flipped_paths.add(str(path))
    config = small_config(root, tmp_path / "runs")
    findings = _checks(config, ["label_issues"])
    # Before training the pixel model is scored against the flipped labels too, so it cannot reach the bar
    # (0.85) at which its disagreements would be evidence: no warning, the labels are judged after training.
    assert codes(findings) == {"label-check-deferred": INFO}
    assert findings[0].evidence["pixel_model_balanced_accuracy"] < 0.85


def test_a_strong_pixel_model_finds_a_few_flipped_labels_before_training(tmp_path: Path) -> None:
    images = digits((0, 1, 3, 7), 100)
    rng = np.random.default_rng(1)
    names = sorted(images)
    root, flipped_paths = tmp_path / "data", set()
    for name in names:
        for i, image in enumerate(images[name]):
            target = names[(names.index(name) + 1) % 4] if rng.random() < 0.06 else name
            path = save_png(root / target / f"{name}_{i:03d}.png", image)
            if target != name:
                flipped_paths.add(str(path))
    findings = _checks(small_config(root, tmp_path / "runs"), ["label_issues"])
    assert codes(findings) == {"label-issues": WARNING}
    evidence = findings[0].evidence
    hits = sum(s["path"] in flipped_paths for s in evidence["suspects"])
    precision = hits / len(evidence["suspects"])
    assert precision >= 0.7 and hits >= 0.8 * len(flipped_paths)
    assert evidence["expected_precision"] >= 0.8 and abs(evidence["expected_precision"] - precision) <= 0.2
    assert {"given", "predicted", "confidence_given"} <= set(evidence["suspects"][0])


def test_clean_labels_raise_no_label_finding(tmp_path: Path) -> None:
    root = write_classes(tmp_path / "data", digits((0, 1, 3, 7), 100))
    findings = _checks(small_config(root, tmp_path / "runs"), ["label_issues"])
    assert [f for f in findings if f.code == "label-issues"] == []
    # The pixel model is strong enough here (≥ 0.85), so its silence is a pass that names its accuracy.
    (passed,) = findings
    assert passed.code == "labels-checked" and passed.evidence["model_balanced_accuracy"] >= 0.85
    assert passed.evidence["basis"].startswith("labels checked by a cross-validated linear model on the pixels "
                                               f"(balanced accuracy {passed.evidence['model_balanced_accuracy']:.2f})")


def test_label_issue_findings_from_given_probabilities() -> None:
    from workbench.core.data.discovery import Sample

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 50)
    probs = np.full((150, 3), 0.005)
    probs[np.arange(150), labels] = 0.99
    wrong = rng.choice(150, 15, replace=False)
    probs[wrong] = 0.005
    probs[wrong, (labels[wrong] + 1) % 3] = 0.99  # confident, and disagreeing with the given label
    samples = [Sample(f"img{i}.png", str(labels[i])) for i in range(150)]
    findings = label_issue_findings(labels, probs, samples, ["a", "b", "c"])
    assert findings[0].severity == WARNING
    assert {s["index"] for s in findings[0].evidence["suspects"]} == set(wrong.tolist())
    # The same disagreements made hesitantly (0.6 against 0.99 for the agreeing images) are the model's own
    # errors on ambiguous images, not evidence against the labels.
    probs[wrong] = 0.2
    probs[wrong, (labels[wrong] + 1) % 3] = 0.6
    assert label_issue_findings(labels, probs, samples, ["a", "b", "c"]) == []


def test_duplicates_copied_from_train_into_test_are_a_problem(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    root = tmp_path / "data"
    write_classes(root, {"a": noise(40, rng), "b": noise(40, rng)}, split="train")
    write_classes(root, {"a": noise(15, rng), "b": noise(15, rng)}, split="test")
    for i in range(6):  # exact copies
        shutil.copy(root / "train" / "a" / f"a_{i:04d}.png", root / "test" / "a" / f"copy_{i}.png")
    near = np.asarray(__import__("PIL.Image").Image.open(root / "train" / "b" / "b_0007.png")).astype(int)
    save_png(root / "test" / "b" / "near.png", np.clip(near + rng.integers(-3, 4, near.shape), 0, 255).astype(np.uint8))
    config = small_config(root, tmp_path / "runs")
    config.data.layout = "presplit"
    findings = _checks(config, ["duplicates"])
    assert codes(findings) == {"duplicates-across-splits": PROBLEM}
    evidence = findings[0].evidence
    assert evidence["pair_count"] == 7
    assert {p["kind"] for p in evidence["pairs"]} == {"exact", "near"}
    assert evidence["test_images_affected"] == 7


def test_clean_random_images_have_no_duplicates_and_hashes_behave() -> None:
    rng = np.random.default_rng(4)
    grey = rng.random((50, 16, 16)).astype(np.float32)
    for hash_fn in (dhash, phash):
        values = hash_fn(grey)
        again = hash_fn(np.clip(grey + rng.normal(0, 0.01, grey.shape), 0, 1).astype(np.float32))
        assert np.median(hamming(values, again)) <= 4
        assert np.median(hamming(values, np.roll(values, 1))) >= 20


def test_a_class_twenty_times_rarer_is_flagged_with_a_weighting_patch(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    config = small_config(write_classes(tmp_path / "data", {"common": bars(200, True, rng), "rare": bars(10, False, rng)}),
                          tmp_path / "runs")
    findings = _checks(config, ["imbalance"])
    assert codes(findings) == {"class-imbalance": WARNING}
    patch = findings[0].patch
    assert patch["training.class_weighting"] is True
    fixed = apply_patch(config, patch)
    assert fixed.training.class_weighting and fixed.training.monitor == "val_balanced_accuracy"
    assert codes(run_data_checks(prepare_data(fixed), fixed, checks=["imbalance"])) == {"class-imbalance": INFO}


def test_resizing_that_erases_the_class_difference_is_flagged(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    root = write_classes(tmp_path / "data", {"vertical": stripes(30, True, rng), "horizontal": stripes(30, False, rng)})
    config = small_config(root, tmp_path / "runs")
    config.preprocessing.image_size = 4
    evidence_dir = tmp_path / "evidence"
    findings = _checks(config, ["input_size"], evidence_dir=evidence_dir)
    assert codes(findings) == {"input-size-loses-detail": WARNING}
    finding = findings[0]
    assert finding.evidence["class_separability_original"] >= 0.9
    assert finding.evidence["class_separability_resized"] <= 0.7
    assert finding.patch["preprocessing.image_size"] >= 16
    assert Path(finding.evidence["image"]).is_file()
    config.preprocessing.image_size = 32  # the originals' own size: nothing is lost
    (kept,) = _checks(config, ["input_size"])
    assert kept.code == "input-size-kept" and kept.evidence["verdict"] == "passed"
    assert "input 32 px: none of" in kept.evidence["basis"]


def test_blank_images_and_unreadable_files_are_reported(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    root = bars_dataset(tmp_path / "data", per_class=30)
    for i in range(3):
        save_png(root / "vertical" / f"blank_{i}.png", np.full((16, 16), 17, np.uint8))
    (root / "horizontal" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    config = small_config(root, tmp_path / "runs")
    found = codes(_checks(config, ["blank_images", "unreadable_files", "duplicates"]))
    assert found["blank-images"] == WARNING
    assert "unreadable-files" in found
    assert "duplicates-across-splits" not in found or rng is not None  # identical blanks may share splits


def test_small_data_is_advice_and_progress_and_stop_work(tmp_path: Path) -> None:
    config = small_config(bars_dataset(tmp_path / "data", per_class=30), tmp_path / "runs")
    prepared = prepare_data(config)
    ticks: list[tuple[int, int]] = []
    findings = run_data_checks(prepared, config, progress=lambda d, t: ticks.append((d, t)))
    assert codes(findings).get("small-data") == INFO
    assert ticks[-1][0] == ticks[-1][1] and len(ticks) >= 5
    assert all(f.severity != PROBLEM for f in findings)
    for finding in findings:
        if finding.patch:
            apply_patch(config, finding.patch)  # every patch names real settings with valid values
    with pytest.raises(InterruptedError):
        run_data_checks(prepared, config, should_stop=lambda: True)
