"""The main window: steps and their statuses, File menu, recent projects, autosave, geometry, drag and drop,
error reporting, and closing while a run is going."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QMessageBox

from tests.qt.helpers import TINY_TRAINING
from workbench.qt import dialogs
from workbench.qt.autosave import Autosaver
from workbench.qt.recent import recent_projects
from workbench.qt.widgets.step_list import StepState

STEPS = ["data", "samples", "model", "strategy", "train", "evaluate", "export"]


def test_steps_are_listed_in_order_and_can_be_revisited(window) -> None:
    assert window.steps.keys() == STEPS
    for key in [*STEPS, "data", "train"]:
        window.show_step(key)
        assert window.current_pane().key == key


def test_steps_that_lack_something_say_what(window) -> None:
    assert window.steps.status("data").state == StepState.NOT_STARTED
    expected = (("samples", "needs a dataset", "data"), ("train", "needs a dataset", "data"),
                ("evaluate", "needs a trained model", "train"), ("export", "needs a trained model", "train"))
    for key, needed, target in expected:
        pane = window.panes[key]
        assert pane.banner.isVisibleTo(pane), key
        assert needed in pane.banner.text.text(), key
        window.show_step(key)
        pane.banner.button.click()  # the banner leads to the step that provides it
        assert window.current_pane().key == target


def test_a_bad_dataset_needs_attention_without_a_dialog(qtbot, window, tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    window.panes["data"].set_source(str(empty))
    qtbot.waitUntil(lambda: bool(window.dataset.error), timeout=10_000)
    assert window.steps.status("data").state == StepState.ATTENTION
    assert "no usable images" in window.panes["data"].banner.text.text()
    assert not [b for b in window.findChildren(QMessageBox) if b.isVisible()]


_KEEP_ALIVE: list[QMimeData] = []  # an event only points at its mime data


def _drop_event(path: Path, kind=QDropEvent):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    _KEEP_ALIVE.append(mime)
    if kind is QDragEnterEvent:
        return QDragEnterEvent(QPointF(10, 10).toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                               Qt.KeyboardModifier.NoModifier)
    return QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)


@pytest.mark.filterwarnings("ignore:Function.*QDragEnterEvent:DeprecationWarning")
def test_dropping_a_folder_loads_it_as_the_dataset(qtbot, window, shapes_dataset, tmp_path) -> None:
    enter = _drop_event(shapes_dataset, QDragEnterEvent)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    stray = tmp_path / "notes.txt"
    stray.write_text("x")
    refused = _drop_event(stray, QDragEnterEvent)
    window.dragEnterEvent(refused)
    assert not refused.isAccepted()
    window.dropEvent(_drop_event(shapes_dataset))
    assert window.project.config.data.source == str(shapes_dataset)
    qtbot.waitUntil(lambda: window.dataset.scan is not None, timeout=20_000)
    assert window.panes["data"].class_table.rowCount() == 3


def test_file_menu_uses_standard_shortcuts(window) -> None:
    assert window.new_action.shortcut() == QKeySequence(QKeySequence.StandardKey.New)
    assert window.open_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Open)
    assert window.save_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Save)
    assert window.save_as_action.shortcut() == QKeySequence(QKeySequence.StandardKey.SaveAs)


def test_new_open_save_and_recent_projects(qtbot, window, tmp_path, monkeypatch, no_blocking_dialogs) -> None:
    target = tmp_path / "first.toml"
    monkeypatch.setattr(dialogs, "choose_project_to_save", lambda *a, **k: str(target))
    window.project.update("training.epochs", 3)
    assert window.isWindowModified()
    window.save_action.trigger()  # no file yet: Save asks where, like Save As
    assert target.exists() and not window.isWindowModified()
    assert "first.toml" in window.windowTitle()
    assert recent_projects(window.settings) == [str(target.resolve())]

    window.project.update("training.epochs", 4)
    window.new_action.trigger()
    assert no_blocking_dialogs == ["ask_save_changes"]  # unsaved changes are never dropped silently
    assert window.project.path is None and window.project.config.training.epochs == 15

    recent = window.recent_menu.actions()
    assert [a.text() for a in recent] == ["first.toml"]
    recent[0].trigger()
    assert window.project.path == target.resolve() and window.project.config.training.epochs == 3

    monkeypatch.setattr(dialogs, "choose_project_to_open", lambda *a, **k: str(target))
    window.new_action.trigger()
    window.open_action.trigger()
    assert window.project.path == target.resolve()


def test_opening_a_broken_project_shows_why(window, tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[training]\nepochs = -3\n")
    assert not window.open_project(bad)
    boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert boxes and "training.epochs" in boxes[-1].text()
    assert any("training.epochs" in message for _, message in window.activity.entries)


def test_autosave_writes_a_backup_and_a_save_clears_it(qtbot, window, tmp_path) -> None:
    backup = tmp_path / "autosave" / "autosave.toml"
    window.project.update("name", "unsaved work")
    qtbot.waitUntil(backup.exists, timeout=5_000)
    recovery = Autosaver.find_recovery(tmp_path / "autosave")
    assert recovery is not None and recovery.config.name == "unsaved work"
    window.project.save(tmp_path / "saved.toml")
    assert not backup.exists()

    window.project.update("name", "after a crash")
    qtbot.waitUntil(backup.exists, timeout=5_000)
    recovery = Autosaver.find_recovery(tmp_path / "autosave")
    assert recovery.project_path == (tmp_path / "saved.toml").resolve()
    window.project.new()
    window.recover(recovery)
    assert window.project.config.name == "after a crash" and window.project.dirty


def test_geometry_is_remembered(make_window) -> None:
    first = make_window()
    first.resize(640, 480)  # within the offscreen screen, which restoreGeometry clamps to
    first.close()
    second = make_window()
    assert (second.width(), second.height()) == (640, 480)


def test_errors_in_background_work_show_a_dialog_and_a_log_entry(qtbot, window) -> None:
    def broken() -> None:
        raise RuntimeError("the disk went away")

    with qtbot.waitSignal(window.tasks.failed, timeout=5_000):
        window.tasks.submit("broken", broken, label="Reading the disk")
    boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert boxes and boxes[-1].text() == "the disk went away" and "Reading the disk" in boxes[-1].windowTitle()
    assert "Traceback" in boxes[-1].detailedText()
    assert any("the disk went away" in message for level, message in window.activity.entries if level == "error")


def test_closing_during_training_asks_then_stops_cleanly(qtbot, window, shapes_dataset, engine_loaded,
                                                         no_blocking_dialogs) -> None:
    window.project.update_many(TINY_TRAINING)
    window.load_dropped(shapes_dataset)
    runner = window.runner
    train = window.panes["train"]
    train.start()
    runner.pause()
    qtbot.waitUntil(lambda: bool(runner.run_dir), timeout=30_000)
    window.close()
    assert "confirm_stop_training" in no_blocking_dialogs
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=30_000)  # closes once the thread has ended
    assert not runner.is_running
    assert train.phase == "stopped"
    assert (Path(runner.run_dir) / "checkpoints" / "last.pt").exists()  # the engine saved a checkpoint


MAIN_SCRIPT = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from workbench.qt import app as gui

def check():
    shown = [w for w in QApplication.topLevelWidgets() if isinstance(w, gui.MainWindow) and w.isVisible()]
    print("WINDOW:", shown[0].windowTitle() if shown else None, shown[0].current_pane().key if shown else None)
    for window in shown:
        window._close_approved = True
        window.close()
    QApplication.instance().quit()

create = gui.create_application
def create_and_check(argv=None):
    application = create(argv)
    QTimer.singleShot(1000, check)
    return application

gui.create_application = create_and_check
sys.exit(gui.main(sys.argv[1:]))
"""


def test_main_opens_the_window(tmp_path) -> None:
    """Bare `workbench` (the CLI calls `main([])`) opens the main window; run in a fresh process."""
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", MAIN_SCRIPT], cwd=Path(__file__).resolve().parents[2],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "WINDOW: untitled[*] — Workbench data" in result.stdout
