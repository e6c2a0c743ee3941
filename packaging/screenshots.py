"""Render every pane of the Workbench window to PNG, offscreen, with real data and a finished short run.

    python packaging/screenshots.py [OUTPUT_FOLDER]      (default: docs/screenshots/)

It writes the bundled digits demo dataset to a temporary folder, loads it, trains a small CNN for a
few epochs, evaluates and exports the run, and saves one picture per step: 01-data.png … 07-export.png.
It also renders the first-run welcome (00-welcome.png), the Samples pane with its help panel open
(08-help.png), the Train pane's live feature projection on its own (09-projection.png), the pitfall
checklist (10-checklist.png), the learning-rate finder (11-lr-finder.png), the per-class attribution maps
(12-attributions.png) and a 3-fold cross-validation (13-cross-validation.png).

First comes a new user's tour (tour-01-….png on; `--tour` renders only that): an empty start, a failed scan of a
folder without images and then a good one, a run that is stopped, closing the window, the relaunch that reopens
the project and offers to resume the run, the resumed run, and its evaluation.
Waiting is done by running the Qt event loop until a condition holds (never processEvents, never sleep).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # set QT_QPA_PLATFORM=xcb to drive a real window (Xvfb)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QSettings

from workbench.core.demo import write_digits_dataset
from workbench.qt.app import MainWindow, create_application
from workbench.qt.probe import wait_until

WINDOW_SIZE = (1440, 940)


def settle(window: MainWindow, seconds: float = 0.4) -> None:
    """Wait for background tasks to finish, then a moment more for layouts and repaints."""
    wait_until(lambda: not window.tasks.is_busy, 120, "background tasks")
    until = time.monotonic() + seconds
    wait_until(lambda: time.monotonic() > until, seconds + 5, "repaint")


def configure(window: MainWindow, dataset: Path, runs_dir: Path) -> None:
    project = window.project
    errors = project.update_many({
        "name": "Handwritten digits",
        "runs_dir": str(runs_dir),
        "preprocessing.image_size": 16,
        "preprocessing.augmentation.rotation": 12.0,
        "preprocessing.augmentation.crop_scale": 0.8,
        "preprocessing.augmentation.brightness": 0.2,
        "model.small_cnn.width": 16,
        "model.small_cnn.depth": 2,
        "training.epochs": 8,
        "training.batch_size": 64,
        "training.lr": 0.003,
        "training.early_stopping_patience": 4,
    })
    if errors:
        raise SystemExit(f"could not configure the demo: {errors}")
    window.panes["data"].set_source(str(dataset))


def scroll_to(pane, widget) -> None:
    """Scroll a pane so that `widget` is in view (a window grab shows only the visible part of a pane)."""
    from PySide6.QtWidgets import QScrollArea

    area = pane.findChild(QScrollArea)
    if area is not None:
        area.ensureWidgetVisible(widget, 0, 0)


def save(widget, path: Path, saved: list[Path]) -> None:
    widget.grab().save(str(path))
    saved.append(path)
    print(f"wrote {path}")


def render(out: Path) -> list[Path]:
    from workbench.qt.doctor import register_monitors

    register_monitors()  # the diagnostics and the live projection watch the run

    app = create_application()
    work = Path(tempfile.mkdtemp(prefix="workbench-shots-"))
    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, autosave_dir=work / "autosave")
    window.resize(*WINDOW_SIZE)
    window.show()
    saved: list[Path] = []
    welcome = window.show_welcome()
    settle(window)
    save(welcome, out / "00-welcome.png", saved)
    welcome.reject()
    dataset = write_digits_dataset(work / "digits")
    configure(window, dataset, work / "runs")
    wait_until(lambda: window.dataset.scan is not None and window.dataset.stats is not None, 120, "dataset scan")

    def shot(key: str, number: int) -> None:
        window.show_step(key)
        settle(window)
        path = out / f"{number:02d}-{key}.png"
        window.grab().save(str(path))
        saved.append(path)
        print(f"wrote {path}")

    for number, key in enumerate(("data", "samples", "model", "strategy"), start=1):
        shot(key, number)
    strategy = window.panes["strategy"]
    strategy.lr_finder.start()
    wait_until(lambda: not strategy.lr_finder.running, 300, "learning-rate finder")
    scroll_to(strategy, strategy.lr_finder)
    settle(window)
    save(window, out / "11-lr-finder.png", saved)
    window.show_step("samples")
    window.set_help_visible(True)
    settle(window)
    save(window, out / "08-help.png", saved)
    window.set_help_visible(False)

    window.show_step("train")
    window.project.save(work / "digits.toml")
    if not window.panes["train"].start():
        raise SystemExit("training did not start")
    wait_until(lambda: not window.runner.is_running, 600, "training")
    train = window.panes["train"]
    if train.phase not in ("completed", "early_stopped"):
        raise SystemExit(f"training ended as {train.phase}: {train.failure}")
    wait_until(lambda: bool(window.runs.current), 60, "the run list")
    shot("train", 5)
    save(train.projection, out / "09-projection.png", saved)
    checklist = window.show_checklist()
    settle(window)
    save(checklist, out / "10-checklist.png", saved)
    checklist.close()

    evaluate = window.panes["evaluate"]
    window.show_step("evaluate")
    evaluate.evaluate()
    wait_until(lambda: not evaluate.evaluating, 300, "evaluation")
    if evaluate.result is None:
        raise SystemExit(f"evaluation failed: {evaluate.error}")
    shot("evaluate", 6)
    if not evaluate.attribution_view.isVisibleTo(evaluate):  # a clean run draws none itself: ask, as a user would
        evaluate.attribution_panel.compute()
    wait_until(lambda: evaluate.attribution_view.isVisibleTo(evaluate), 120, "attribution maps")
    scroll_to(evaluate, evaluate.attribution_view)
    settle(window)
    save(window, out / "12-attributions.png", saved)

    export = window.panes["export"]
    export.dest_edit.setText(str(work / "export"))
    export.export()
    wait_until(lambda: not export.exporting, 300, "export")
    if not export.written:
        raise SystemExit(f"export failed: {export.error}")
    shot("export", 7)

    window.project.update_many({"training.epochs": 3, "data.k_folds": 3})
    window.show_step("train")
    if not train.start_k_fold():
        raise SystemExit("cross-validation did not start")
    wait_until(lambda: not window.runner.is_running, 900, "cross-validation")
    shot("train", 13)
    (out / "13-train.png").rename(out / "13-cross-validation.png")
    saved[-1] = out / "13-cross-validation.png"

    window._close_approved = True
    window.close()
    wait_until(lambda: not window.isVisible(), 120, "the window to close")
    app.quit()
    return saved


def non_images(root: Path) -> Path:
    """A folder a new user might pick by mistake: class-like sub-folders holding no images."""
    for name in ("cracked", "intact"):
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / "notes.txt").write_text("measurements, not images\n", encoding="utf-8")
        (root / name / "scan.pdf").write_bytes(b"%PDF-1.4 not an image")
    return root


def tour(out: Path) -> list[Path]:
    """A new user's first session, then the next start: an empty window, a failed scan and a good one, a run
    that is stopped, closing, the relaunch that reopens the project and offers Resume, and the resumed run."""
    from workbench.qt.doctor import register_monitors

    register_monitors()  # the doctor and the live projection watch the run, as in the app
    app = create_application()
    work = Path(tempfile.mkdtemp(prefix="workbench-tour-"))
    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
    saved: list[Path] = []

    def window_shot(window: MainWindow, key: str, name: str) -> None:
        window.show_step(key)
        settle(window)
        save(window, out / f"tour-{len(saved) + 1:02d}-{name}.png", saved)

    window = MainWindow(settings=settings, autosave_dir=work / "autosave")
    window.resize(*WINDOW_SIZE)
    window.show()
    window.project.update("runs_dir", str(work / "runs"))
    window_shot(window, "data", "empty-start")
    window.panes["data"].set_source(str(non_images(work / "lab-notes")))
    wait_until(lambda: bool(window.dataset.error), 120, "the failed scan")
    window_shot(window, "data", "failed-scan")
    window_shot(window, "train", "failed-scan-train")
    configure(window, write_digits_dataset(work / "digits"), work / "runs")
    window.project.update_many({"training.epochs": 6, "training.early_stopping_patience": 0})
    wait_until(lambda: window.dataset.scan is not None and window.dataset.stats is not None, 120, "dataset scan")
    window_shot(window, "data", "good-scan")
    window_shot(window, "model", "model")
    window.project.save(work / "digits.toml")
    train = window.panes["train"]
    window.show_step("train")
    if not train.start():
        raise SystemExit("training did not start")
    wait_until(lambda: train.last_epoch >= 2, 600, "two epochs")
    window_shot(window, "train", "training")
    train.stop()
    wait_until(lambda: not window.runner.is_running, 120, "the stop")
    window_shot(window, "train", "stopped")
    window.close()  # nothing runs and the project is saved: it closes, and remembers the session
    wait_until(lambda: not window.isVisible(), 60, "the window to close")

    again = MainWindow(settings=settings, autosave_dir=work / "autosave")
    again.resize(*WINDOW_SIZE)
    again.show()
    if not again.restore_session():
        raise SystemExit("the relaunch did not reopen the project")
    resumed = again.panes["train"]
    wait_until(lambda: bool(resumed.resume_offer), 120, "the offer to resume")
    window_shot(again, "train", "relaunch-offers-resume")
    resumed.banner.button.click()  # "Resume"
    wait_until(lambda: not again.runner.is_running and resumed.phase.finished, 600, "the resumed run")
    window_shot(again, "train", "resumed-and-finished")
    evaluate = again.panes["evaluate"]
    again.show_step("evaluate")
    evaluate.evaluate()
    wait_until(lambda: not evaluate.evaluating, 300, "evaluation")
    window_shot(again, "evaluate", "evaluate")
    evaluate.tabs.setCurrentIndex(2)  # calibration
    window_shot(again, "evaluate", "calibration")
    again._close_approved = True
    again.close()  # the end-of-run checks may still run: the window cancels them and closes once they have ended
    wait_until(lambda: not again.isVisible(), 120, "the window to close")
    app.quit()
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="docs/screenshots", help="folder for the PNG files")
    parser.add_argument("--tour", action="store_true", help="only the new user's tour (tour-*.png)")
    args = parser.parse_args(argv)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    tour(out)
    if not args.tour:
        render(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
