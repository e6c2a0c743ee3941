"""Shortcuts found from the training data and confirmed on the model (issue 14): real animal drawings, with the
mark in one class's *training* images only, as in the paper's Fig. 5; the validation and test images are clean."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.core.diag_fixtures import animal_mnist, small_config, write_classes
from workbench.core.callbacks import CollectingCallback
from workbench.core.diagnostics.run_attributions import attribution_maps_for_run
from workbench.core.diagnostics.run_monitors import ShortcutMonitor
from workbench.core.diagnostics.shortcut_probe import find_candidates
from workbench.core.events import FindingRaised
from workbench.core.training.engine import train

CLASSES = (0, 1, 2, 3)


def _run(tmp_path: Path, mark, epochs: int) -> tuple[list[FindingRaised], Path]:
    train_images = animal_mnist(CLASSES, 200)
    for image in train_images["a0"]:
        mark(image)
    root = tmp_path / "data"
    write_classes(root, train_images, split="train")
    write_classes(root, animal_mnist(CLASSES, 60, offset=200), split="val")
    write_classes(root, animal_mnist(CLASSES, 10, offset=260), split="test")
    config = small_config(root, tmp_path / "runs", epochs=epochs, lr=3e-3)
    config.data.layout = "presplit"
    config.preprocessing.image_size = 28  # the drawings' own size: the one-pixel mark stays one pixel
    config.model.small_cnn.width = 16
    events = CollectingCallback()
    result = train(config, events, monitors=[ShortcutMonitor()])
    return [e for e in events.of_type(FindingRaised) if e.code.startswith("shortcut")], result.run_dir


def test_candidates_come_from_the_training_images_against_ordinary_variation() -> None:
    images = animal_mnist(CLASSES, 200)
    x = np.stack([im for name in sorted(images) for im in images[name]])[:, None].astype(np.float32) / 255
    y = np.repeat(np.arange(len(CLASSES)), 200)
    clean = find_candidates((x - x.mean()) / x.std(), y, len(CLASSES))
    assert not any(c.kind == "colour" for c in clean)  # the classes' brightness differs no more than usual
    marked = x.copy()
    marked[y == 2, 0, 5, 20] = 1.0
    found = [c for c in find_candidates((marked - x.mean()) / x.std(), y, len(CLASSES)) if 160 in c.places]
    assert [(c.class_index, c.kind) for c in found] == [(2, "region")] and found[0].p_value < 0.01


@pytest.mark.slow
def test_a_one_pixel_mark_in_one_classs_training_images_is_found_and_confirmed(tmp_path: Path) -> None:
    def mark(image: np.ndarray) -> None:
        image[5, 20] = 255

    [found], _ = _run(tmp_path, mark, epochs=8)
    e = found.evidence
    assert (found.code, e["class"], e["region_pixels"]) == ("shortcut-region", "a0", [[5, 20]])
    assert found.severity in ("warning", "problem")
    assert e["flip_rate"] >= e["flip_rate_random_pixels"] + 0.1  # the transplant beats random places
    assert e["validation_share"] < 0.5  # the mark is in the training split only
    # Fig. 5's evidence: an image before and after, with its top-3 probabilities.
    assert Path(e["example_image"]).is_file()
    assert e["top3_after"][0][0] == "a0" and e["top3_before"][0][0] != "a0"


def test_a_tint_of_one_classs_training_images_is_found_and_confirmed(tmp_path: Path) -> None:
    def brighten(image: np.ndarray) -> None:
        image[:] = np.clip(image.astype(int) + 60, 0, 255)

    [found], run_dir = _run(tmp_path, brighten, epochs=4)
    e = found.evidence
    assert (found.code, e["class"]) == ("shortcut-colour", "a0")
    assert e["flip_rate"] >= 0.3 > e["flip_rate_random_pixels"] and len(e["colour_shift"]) == 1
    # `workbench attributions RUN` (maps of validation images, which lack the tint) reports it too.
    on_demand = attribution_maps_for_run(run_dir)
    assert [(f.code, f.evidence["class"]) for f in on_demand.findings if f.code.startswith("shortcut")] == \
        [("shortcut-colour", "a0")]


def test_the_last_validation_pass_stands_in_for_the_probes_pass() -> None:
    """The probes' probabilities come from the run's last validation pass, row by row, when it covered them all."""
    from workbench.core.diagnostics.shortcut import _known_probs

    rows = np.array([7, 2, 9])
    probs = np.eye(4)[[3, 0, 1, 2]]  # rows 9, 7, 2, 5 predicted as classes 3, 0, 1, 2
    known = (np.array([9, 7, 2, 5]), probs)
    assert _known_probs(rows, known).argmax(1).tolist() == [0, 1, 3]
    assert _known_probs(np.array([7, 4]), known) is None  # a probe the pass did not see: the model predicts them
    assert _known_probs(rows, None) is None


def test_candidates_are_searched_once_per_training_pool(tmp_path: Path, monkeypatch) -> None:
    """A later run of the same training images reads the candidates the first search stored; other images (or
    labels) are searched afresh."""
    from workbench.core.diagnostics import shortcut_probe

    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    images = animal_mnist(CLASSES, 60)
    x = np.stack([im for name in sorted(images) for im in images[name]])[:, None].astype(np.float32) / 255
    y = np.repeat(np.arange(len(CLASSES)), 60)
    x[y == 2, 0, 5, 20] = 1.0
    searches: list[int] = []
    search = shortcut_probe.find_candidates
    monkeypatch.setattr(shortcut_probe, "find_candidates", lambda *a, **k: searches.append(1) or search(*a, **k))
    first = shortcut_probe.stored_candidates(x, y, len(CLASSES))
    steps: list[tuple[int, int]] = []
    again = shortcut_probe.stored_candidates(x, y, len(CLASSES), progress=lambda *p: steps.append(p))
    assert len(searches) == 1 and steps[-1] == (4, 4)
    assert [(c.class_index, c.kind, c.places.tolist(), c.values.tolist(), c.p_value) for c in again] == \
        [(c.class_index, c.kind, c.places.tolist(), c.values.tolist(), c.p_value) for c in first]
    assert any(160 in c.places for c in again)
    shortcut_probe.stored_candidates(x, np.roll(y, 1), len(CLASSES))  # other labels: a new search
    assert len(searches) == 2
