"""Fixtures for the GUI tests: offscreen Qt, a small generated dataset, and an isolated main window."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from tests.helpers import write_shapes_dataset


@pytest.fixture(autouse=True)
def no_blocking_dialogs(monkeypatch):
    """Modal questions would block an offscreen test forever: answer them, and record that they were asked."""
    from workbench.qt import dialogs

    asked: list[str] = []

    def answer(name, value):
        def fake(*args, **kwargs):
            asked.append(name)
            return value
        monkeypatch.setattr(dialogs, name, fake)

    answer("ask_save_changes", "discard")
    answer("confirm_stop_training", True)
    answer("ask_recover", False)
    answer("choose_folder", "")
    answer("choose_csv", "")
    answer("choose_project_to_open", "")
    answer("choose_project_to_save", "")
    return asked


@pytest.fixture(scope="session")
def shapes_dataset(tmp_path_factory) -> Path:
    """3 classes × 30 synthetic 16×16 RGB PNGs of distinct shapes, plus one unreadable file (square/broken.png)."""
    return write_shapes_dataset(tmp_path_factory.mktemp("shapes"), colour=True, corrupt=True)


@pytest.fixture(scope="session")
def engine_loaded() -> None:
    """Import torch and the engine once, so no test measures the import."""
    import workbench.core.training.engine  # noqa: F401


@pytest.fixture
def make_window(qtbot, tmp_path):
    """Factory of isolated main windows (own QSettings file, autosave folder and runs folder)."""
    from workbench.qt.app import MainWindow

    windows = []

    def factory(settings_name: str = "settings.ini", runs: bool = True):
        settings = QSettings(str(tmp_path / settings_name), QSettings.Format.IniFormat)
        # Background data checks have their own tests; here they would only compete for the two cores.
        window = MainWindow(settings=settings, autosave_dir=tmp_path / "autosave", warm_up=False, check_data=False)
        qtbot.addWidget(window)
        if runs:
            window.project.update("runs_dir", str(tmp_path / "runs"))
        window.project.update("diagnostics.enabled", False)  # the doctor has its own tests; keep runs quick
        window.show()
        windows.append(window)
        return window

    yield factory
    for window in windows:
        if window.runner.is_busy:  # training, or its end-of-run checks
            window.runner.stop()
            window.runner.wait(60_000)
        window.tasks.cancel_all()
        window.tasks.wait(60_000)
        window._close_approved = True
        window.autosaver.stop()


@pytest.fixture
def window(make_window):
    return make_window()
