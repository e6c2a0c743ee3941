"""The pitfall doctor in the window: findings show on their pane with the fix, Apply changes the config, the
checklist summarises them, and a re-opened run shows its stored findings.json."""

from __future__ import annotations

import json

from PySide6.QtWidgets import QLabel

from workbench.core.events import FindingRaised

IMBALANCE = FindingRaised(
    "class_imbalance", "warning", "The classes are unbalanced",
    "The largest class has 5 times as many training images as the smallest.",
    "Weigh the classes in the loss.", {"ratio": 5.0, "smallest": "cross", "patch": {"training.class_weighting": True},
                                       "paper_item": "II-C"}, "data")


def _texts(widget) -> str:
    return " ".join(label.text() for label in widget.findChildren(QLabel))


def test_a_finding_shows_on_its_pane_with_its_fix_and_apply_changes_the_config(window) -> None:
    window.runner.finding.emit(IMBALANCE)
    pane = window.panes["data"]
    assert pane.findings.isVisibleTo(pane)
    assert not window.panes["train"].findings.isVisibleTo(window.panes["train"])
    [card] = pane.findings.cards
    text = _texts(card)
    assert "unbalanced" in text and "5 times" in text and "Weigh the classes" in text and "ratio: 5" in text
    assert "patch" not in text
    assert card.apply_button.isVisibleTo(card)
    assert window.project.config.training.class_weighting is False
    card.apply_button.click()
    assert window.project.config.training.class_weighting is True
    assert not card.apply_button.isEnabled()


def test_apply_names_the_change_and_undo_restores_it(window) -> None:
    window.project.update("training.lr", 0.025)
    window.runner.finding.emit(FindingRaised(
        "loss-diverging", "problem", "The training loss is diverging", "It rose.", "Divide the rate by 10.",
        {"patch": {"training.lr": 0.0025}}, "train"))
    [card] = window.panes["train"].findings.cards
    assert "training.lr 0.025 → 0.0025" in _texts(card)  # shown before Apply
    card.apply_button.click()
    assert window.project.config.training.lr == 0.0025
    assert card.undo_button.isVisibleTo(card)
    card.undo_button.click()
    assert window.project.config.training.lr == 0.025
    assert window.project.config.diagnostics.applied_fixes == []
    assert "Undone: training.lr 0.025 → 0.0025" in _texts(card)


def test_a_fix_that_would_undo_an_earlier_one_says_so_before_apply(window) -> None:
    window.project.update("model.small_cnn.width", 64)
    window.runner.finding.emit(FindingRaised(
        "model-too-large", "warning", "The model is large for the data", "e", "Halve the width.",
        {"patch": {"model.small_cnn.width": 32}}, "data"))
    [first] = window.panes["data"].findings.cards
    first.apply_button.click()
    window.runner.finding.emit(FindingRaised(
        "underfitting", "warning", "The training loss levels off", "e", "Double the width.",
        {"patch": {"model.small_cnn.width": 64}}, "train"))
    [second] = window.panes["train"].findings.cards
    text = _texts(second)
    assert "would undo an earlier fix" in text and "The model is large for the data" in text
    assert second.apply_button.text() == "Apply anyway"
    assert window.project.config.model.small_cnn.width == 32  # nothing changed until the user insists


def test_a_finding_without_a_setting_has_no_apply_button(window) -> None:
    window.runner.finding.emit(FindingRaised("loss_start", "problem", "The first loss is far too high",
                                             "It started at 9.1; about 1.10 is expected.", "Lower the learning rate.",
                                             {"first_loss": 9.1, "expected": 1.0986}, "train"))
    [card] = window.panes["train"].findings.cards
    assert not card.apply_button.isVisibleTo(card)
    assert "first loss: 9.1" in _texts(card)


def test_the_checklist_shows_item_status(window) -> None:
    dialog = window.show_checklist()
    assert dialog.view.status_of(3) == "not checked"
    window.findings.replace("data", [])
    assert dialog.view.status_of(3) == "passed"
    window.runner.finding.emit(FindingRaised("duplicate_images", "problem", "Duplicates across splits", "…", "",
                                             {"paper_item": "II-A.3"}, "data"))
    assert dialog.view.status_of(3) == "problem"
    assert dialog.view.status_of(5) == "not checked"
    window.findings.mark_checked("run")  # a finished run alone does not pass item 5: it needs its numbers
    assert dialog.view.status_of(5) == "not checked"
    basis = "k-NN accuracy 0.91 (95% CI 0.87-0.94) > majority 0.25; silhouette 0.31 ≥ 0.10"
    window.runner.finding.emit(FindingRaised("feature-structure", "info", "The features have class structure", "…", "",
                                             {"paper_item": "II-A.5", "verdict": "passed", "basis": basis}, "train"))
    assert dialog.view.status_of(5) == "passed"
    [row] = [dialog.view.tree.topLevelItem(i) for i in range(7) if dialog.view.tree.topLevelItem(i).text(0).startswith("5.")]
    assert row.text(1) == f"passed: {basis}"
    dialog.close()


def test_a_reopened_run_shows_its_stored_findings(qtbot, window, tmp_path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "findings.json").write_text(json.dumps({"findings": [
        {"code": "no_structure", "severity": "warning", "title": "No class structure", "explanation": "…",
         "fix": "", "evidence": {"knn_accuracy": 0.3}, "pane": "train"}]}))
    window.runs.current_changed.emit(str(run_dir))
    pane = window.panes["train"]
    qtbot.waitUntil(lambda: len(pane.findings.cards) == 1, timeout=10_000)
    assert "No class structure" in _texts(pane.findings)


def test_suspected_label_errors_show_as_thumbnails_with_given_and_predicted_labels(qtbot, window, tmp_path) -> None:
    from PIL import Image

    paths = []
    for i in range(3):
        path = tmp_path / f"suspect_{i}.png"
        Image.new("L", (8, 8), 40 * i).save(path)
        paths.append(str(path))
    suspects = [{"path": p, "given": "cat", "predicted": "dog", "confidence_given": 0.05,
                 "confidence_predicted": 0.93} for p in paths]
    window.runner.finding.emit(FindingRaised(
        "label-issues", "warning", "3 image(s) may be mislabelled", "Predictions disagree with the labels.",
        "Review the listed images.", {"suspects": suspects, "count": 3}, "samples"))
    [card] = window.panes["samples"].findings.cards
    assert [path for path, _ in card.examples] == paths
    qtbot.waitUntil(lambda: all(label.pixmap() is not None and not label.pixmap().isNull() for label in card.pictures),
                    timeout=10_000)  # read in the background
    captions = [label.text() for label in card.findChildren(QLabel) if "→" in label.text()]
    assert captions == ["given cat\n→ dog (93%)"] * 3
    pictures = [label for label in card.findChildren(QLabel) if label.toolTip() in paths]
    assert len(pictures) == 3 and all(not label.pixmap().isNull() for label in pictures)


def test_a_check_reported_by_the_data_checks_and_the_run_is_listed_once(window) -> None:
    store = window.findings
    pixels = FindingRaised("label-issues", "warning", "12 image(s) may be mislabelled", "From a pixel model.", "", {},
                           "samples")
    network = FindingRaised("label-issues", "info", "3 image(s) may be mislabelled", "From the trained network.", "",
                            {}, "samples")
    store.add(network, "run")
    store.add(pixels, "data")  # the data checks may finish after the run began
    assert [f.title for f in store.all()] == ["3 image(s) may be mislabelled"]
    assert [card.finding.title for card in window.panes["samples"].findings.cards] == ["3 image(s) may be mislabelled"]
    store.clear("run")
    assert [f.title for f in store.all()] == ["12 image(s) may be mislabelled"]
