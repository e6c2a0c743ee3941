"""First run: the welcome dialog, its sample-data path (writes the digits in the background and loads them with
the demo settings), the QSettings flag, the device status, and the help-menu way back to the welcome."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from PySide6.QtCore import QSettings

from workbench.qt.app import MainWindow
from workbench.qt.statusbar import FIX_URL
from workbench.qt.welcome import is_first_run


@pytest.fixture
def fresh_window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, autosave_dir=tmp_path / "autosave", warm_up=False,
                        demo_dir=tmp_path / "digits", check_data=False)
    qtbot.addWidget(window)
    window.project.update("runs_dir", str(tmp_path / "runs"))
    window.show()
    yield window
    window.tasks.cancel_all()
    window.tasks.wait(60_000)
    window._close_approved = True
    window.autosaver.stop()


def test_the_sample_data_path_loads_the_demo_dataset(qtbot, fresh_window, tmp_path) -> None:
    window = fresh_window
    assert is_first_run(window.settings)
    dialog = window.show_welcome()
    assert dialog.isVisible()
    dialog.sample_button.click()
    assert not dialog.isVisible()
    assert not is_first_run(window.settings)
    qtbot.waitUntil(lambda: window.dataset.scan is not None, timeout=60_000)
    config = window.project.config
    assert config.data.source == str(tmp_path / "digits")
    assert config.preprocessing.image_size == 16 and config.training.epochs >= 10
    assert config.runs_dir == str(tmp_path / "runs")
    assert len(window.dataset.class_names) == 10
    assert window.current_pane().key == "data"


def test_open_my_images_asks_for_a_folder(fresh_window, no_blocking_dialogs) -> None:
    fresh_window.show_welcome().open_button.click()
    assert "choose_folder" in no_blocking_dialogs


def test_the_status_bar_links_to_the_fix_when_cuda_is_broken(fresh_window) -> None:
    status = fresh_window.device_status
    fresh_window._on_devices(SimpleNamespace(available=["cpu"], recommended="cpu", description="CPU (2 threads)",
                                             problem="CUDA is installed but not usable: driver too old"))
    assert FIX_URL in status.text() and "driver too old" in status.toolTip()
    fresh_window._on_devices(SimpleNamespace(available=["cpu"], recommended="cpu", description="CPU (2 threads)",
                                             problem=""))
    assert FIX_URL not in status.text() and "CPU only" in status.text()
