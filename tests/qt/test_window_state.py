"""The window never shows stale state (issue 16): banners, projections, findings and the busy bar follow the
current dataset and run, and the run log names the metric that picks the best epoch."""

from __future__ import annotations

from pathlib import Path

from tests.qt.helpers import TINY_TRAINING
from workbench.core.events import EpochEnded, FindingRaised, ProjectionReady

TIMEOUT = 60_000


def non_images(root: Path) -> Path:
    folder = root / "nonimages"
    for name in ("a", "b"):
        (folder / name).mkdir(parents=True)
        (folder / name / "notes.txt").write_text("not an image", encoding="utf-8")
    return folder


def load(qtbot, window, folder: Path) -> None:
    window.load_dropped(folder)
    qtbot.waitUntil(lambda: not window.dataset.scanning, timeout=TIMEOUT)


def test_banners_clear_when_the_dataset_changes(qtbot, window, tmp_path, shapes_dataset, engine_loaded) -> None:
    train, data = window.panes["train"], window.panes["data"]
    load(qtbot, window, non_images(tmp_path))
    assert "no usable images" in window.dataset.error
    assert train.banner.isVisibleTo(train) and "no usable images" in train.banner.text.text()
    assert "the Data step lists them" in train.banner.text.text()  # the skipped list it names is shown there
    assert data.skipped_box.isVisibleTo(data) and data.skipped_table.rowCount() == 2
    assert "the skipped list is below" in data.banner.text.text()
    window.project.update_many(TINY_TRAINING)
    train.start()  # training the bad dataset fails too, with its own banner
    qtbot.waitUntil(lambda: train.phase == "failed" and not window.runner.is_running, timeout=TIMEOUT)
    assert "Training failed" in train.banner.text.text()
    assert train.progress.maximum() > 0, "the busy bar stops moving once the start has failed"
    load(qtbot, window, shapes_dataset)
    assert window.dataset.scan is not None and not window.dataset.error
    assert not train.banner.isVisibleTo(train), train.banner.text.text()
    assert not (data.banner.isVisibleTo(data) and "no usable images" in data.banner.text.text())


def test_a_new_run_clears_the_old_projection_and_findings(qtbot, window, shapes_dataset, engine_loaded) -> None:
    train = window.panes["train"]
    load(qtbot, window, shapes_dataset)
    window.project.update_many({**TINY_TRAINING, "diagnostics.enabled": True, "diagnostics.projection_every": 5,
                                "training.epochs": 12})
    old = ProjectionReady(3, "pca", ((0.0, 0.0), (1.0, 1.0), (0.5, 0.2)), (0, 1, 2))
    train.projection.add(old)
    window.findings.add(FindingRaised("old-run", "warning", "From the last run", "stale", "none", {}), "run")
    assert train.projection.projections and window.findings.for_pane("train") + window.findings.all()
    train.start()
    try:
        assert train.projection.projections == []
        assert not [f for f in window.findings.all() if f.title == "From the last run"]
        qtbot.waitUntil(lambda: train.epochs == 12, timeout=TIMEOUT)  # RunStarted: the schedule is known
        assert train.projection.epoch_label.text() == "Projection every 5 epochs · next after epoch 5"
    finally:
        window.runner.stop()
        qtbot.waitUntil(lambda: not window.runner.is_running, timeout=TIMEOUT)


def epoch(number: int, val_loss: float, accuracy: float, balanced: float, best: bool) -> EpochEnded:
    return EpochEnded(number, 10, 0.5, val_loss, 0.6, {"accuracy": accuracy, "balanced_accuracy": balanced}, 1e-3,
                      1.0, best)


def test_the_log_stars_the_monitored_metric(qtbot, window) -> None:
    train = window.panes["train"]
    train.monitor = "val_balanced_accuracy"
    # Plain accuracy drops from 50.6 % to 36.1 % while balanced accuracy rises: the engine stars epoch 2.
    train._on_epoch(epoch(1, 1.2, 0.506, 0.30, True))
    train._on_epoch(epoch(2, 1.3, 0.361, 0.42, True))
    train._on_epoch(epoch(3, 1.1, 0.60, 0.40, False))
    lines = train.log_view.toPlainText().splitlines()[-3:]
    assert "validation balanced accuracy 42.0%" in lines[1]
    assert lines[1].endswith("★ best validation balanced accuracy so far")
    assert "★" not in lines[2] and "validation balanced accuracy 40.0%" in lines[2]
    train.monitor = "val_loss"
    train._on_epoch(epoch(4, 0.9, 0.61, 0.41, True))
    last = train.log_view.toPlainText().splitlines()[-1]
    assert "validation loss 0.9000" in last and last.endswith("★ best validation loss so far")


def test_legends_sit_outside_the_data_area(qtbot, window) -> None:
    window.show_step("train")
    train = window.panes["train"]
    window.resize(1400, 1000)
    for epoch_number in range(1, 6):
        train.curves.add_epoch(epoch_number, {"train_loss": 1.0 / epoch_number, "val_loss": 1.1 / epoch_number,
                                              "train_accuracy": 0.2 * epoch_number - 0.05,
                                              "accuracy": 0.19 * epoch_number, "balanced_accuracy": 0.18 * epoch_number,
                                              "lr": 1e-3})
    qtbot.wait(50)
    for plot in (train.loss_plot, train.acc_plot):
        plot.flush()
        item = plot.getPlotItem()
        legend, data_area = plot.legend.sceneBoundingRect(), item.vb.sceneBoundingRect()
        assert legend.height() > 0
        assert not legend.intersects(data_area), (plot.plain_title, legend, data_area)
        assert legend.top() >= data_area.bottom()
    # Only series with data are listed: no "pretraining" or "share of training data" entry for a plain run.
    assert train.loss_plot.legend_names() == ["training", "validation"]
    assert train.acc_plot.legend_names() == ["training", "validation", "validation (balanced)"]


def test_offline_pretrained_answers_within_seconds_with_the_ways_on(qtbot, window, shapes_dataset, engine_loaded,
                                                                   no_network) -> None:
    import time

    import timm  # noqa: F401  (the app's warm-up imports it; the import is not what is timed)

    load(qtbot, window, shapes_dataset)
    window.project.update_many({**TINY_TRAINING, "model.architecture": "resnet18", "model.pretrained": True})
    train = window.panes["train"]
    started = time.monotonic()
    train.start()
    qtbot.waitUntil(lambda: train.phase == "failed", timeout=TIMEOUT)
    elapsed = time.monotonic() - started
    assert elapsed < 5.0, f"the answer took {elapsed:.1f} s"
    text = train.banner.text.text()
    assert text.startswith("The pretrained weights for ResNet-18 are not on this computer")
    assert "connect to the internet once" in text and "local weights file" in text
    assert train.banner.button.text() == "Choose a local weights file"
    train.banner.button.click()
    assert window.current_pane().key == "strategy"


def test_relaunch_reopens_the_last_project_and_offers_resume(qtbot, make_window, tmp_path, shapes_dataset,
                                                             engine_loaded, no_blocking_dialogs) -> None:
    first = make_window("session.ini")
    load(qtbot, first, shapes_dataset)
    first.project.update_many({**TINY_TRAINING, "training.epochs": 3})
    project_file = tmp_path / "cells.toml"
    assert first._save_to(project_file)
    first.show_step("train")
    train = first.panes["train"]
    train.start()
    qtbot.waitUntil(lambda: train.last_epoch >= 1, timeout=TIMEOUT)
    first.close()  # asks, stops the run (a checkpoint is saved), then closes
    qtbot.waitUntil(lambda: not first.isVisible(), timeout=TIMEOUT)
    run_dir = first.runner.run_dir
    assert "confirm_stop_training" in no_blocking_dialogs and train.phase == "stopped"

    second = make_window("session.ini")  # same settings and runs folder: the next start of the app
    qtbot.waitUntil(lambda: not second.tasks.is_running("runs"), timeout=TIMEOUT)
    assert second.runs.runs and second.runs.current == ""  # an empty project shows no other project's run
    assert second.restore_session()
    assert second.project.path == project_file.resolve() and second.current_pane().key == "train"
    qtbot.waitUntil(lambda: second.runs.current == run_dir, timeout=TIMEOUT)
    resumed = second.panes["train"]
    qtbot.waitUntil(lambda: resumed.resume_offer != "", timeout=TIMEOUT)
    assert resumed.banner.isVisibleTo(resumed) and resumed.banner.button.text() == "Resume"
    assert "was stopped after epoch" in resumed.banner.text.text()
    assert resumed.phase_label.text().startswith("Stored run · stopped after")
    assert "Not started" not in resumed.phase_label.text() and resumed.status().text == "Stopped · can resume"
    resumed.banner.button.click()
    qtbot.waitUntil(lambda: resumed.phase == "completed", timeout=TIMEOUT)
    assert resumed.last_epoch == 3 and not resumed.banner.isVisibleTo(resumed)
    assert resumed.speed_label.text().startswith("Took") and resumed._earlier_seconds > 0  # the epochs before the stop


def test_an_interrupted_run_is_offered_for_resume(qtbot, make_window, shapes_dataset, engine_loaded) -> None:
    from workbench.core.runs import RunStore

    window = make_window()
    load(qtbot, window, shapes_dataset)
    window.project.update_many({**TINY_TRAINING, "training.epochs": 3})
    train = window.panes["train"]
    train.start()
    qtbot.waitUntil(lambda: train.last_epoch >= 1, timeout=TIMEOUT)
    train.stop()
    # is_busy: the end-of-run work also writes the run's files and index row; simulate the crash after it
    qtbot.waitUntil(lambda: not window.runner.is_busy, timeout=TIMEOUT)
    run_dir = Path(window.runner.run_dir)
    # As after a crash: the index still says "running", the folder records no end (no run.json), and the last
    # checkpoint is on disk.
    RunStore(run_dir.parent).update(run_dir.name, status="running")
    (run_dir / "run.json").unlink()
    window.runner.run_dir = ""
    train.phase = train.phase.IDLE
    window.runs.refresh()
    qtbot.waitUntil(lambda: train.interrupted == str(run_dir), timeout=TIMEOUT)
    assert "was interrupted" in train.banner.text.text() and train.banner.button.text() == "Resume"
    assert train.resume_button.isEnabled() and train.resumable_run() == str(run_dir)
    train.banner.button.click()
    qtbot.waitUntil(lambda: train.phase == "completed", timeout=TIMEOUT)
    assert train.last_epoch == 3 and not train.interrupted and not train.banner.isVisibleTo(train)
