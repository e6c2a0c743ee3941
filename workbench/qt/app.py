"""The application: QApplication set-up, the main window with its step list, menus and settings, and `main()`.

The window owns the shared objects (project, background tasks, training runner, dataset state, run
history, the pitfall doctor's findings) and the seven wizard panes. It handles New/Open/Save, recent
projects and window geometry (QSettings), automatic backups, dropping a folder to load it as a dataset,
the first-run welcome (sample data or your own images), the device status, the data checks, and closing
safely while a run is going.

Start-up stays fast because torch is imported only after the window is shown (engine warm-up and device
detection are background tasks started from the first showEvent). With WORKBENCH_STARTUP_PROBE=1 the
window prints `WORKBENCH_WINDOW_SHOWN <time.time()>` when first shown and quits (benchmarks/startup.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QHBoxLayout,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

import workbench
from workbench.qt import dialogs, doctor, gui_gc, jobs
from workbench.qt.application import create_application
from workbench.qt.autosave import Autosaver
from workbench.qt.context import PaneContext
from workbench.qt.dataset_state import DatasetState
from workbench.qt.panes.base import Pane
from workbench.qt.panes.data import DataPane
from workbench.qt.panes.evaluate import EvaluatePane
from workbench.qt.panes.export import ExportPane
from workbench.qt.panes.model import ModelPane
from workbench.qt.panes.samples import SamplesPane
from workbench.qt.panes.strategy import StrategyPane
from workbench.qt.panes.train import TrainPane
from workbench.qt.project_model import ProjectModel
from workbench.qt.recent import app_settings, load_geometry, save_geometry
from workbench.qt.resources import app_icon
from workbench.qt.run_history import RunHistory
from workbench.qt.runner import TrainingRunner
from workbench.qt.session import remember_session
from workbench.qt.tasks import TaskFailure, TaskManager
from workbench.qt.unsaved_runs import UnsavedRuns
from workbench.qt.welcome import WelcomeDialog, is_first_run
from workbench.qt.widgets.activity_log import ActivityLog
from workbench.qt.widgets.checklist import ChecklistDialog
from workbench.qt.widgets.findings import FindingStore
from workbench.qt.widgets.step_list import StepList
from workbench.qt.window_files import ProjectFilesMixin
from workbench.qt.window_findings import WindowFindingsMixin
from workbench.qt.window_menus import WindowMenusMixin

PANE_CLASSES: tuple[type[Pane], ...] = (DataPane, SamplesPane, ModelPane, StrategyPane, TrainPane, EvaluatePane,
                                        ExportPane)
PROBE_ENV = "WORKBENCH_STARTUP_PROBE"
DATA_CHECK_DELAY_MS = 1500


class MainWindow(ProjectFilesMixin, WindowMenusMixin, WindowFindingsMixin, QMainWindow):
    """The Workbench window: step list on the left, the current step's pane on the right."""

    pane_classes = PANE_CLASSES

    def __init__(self, settings: QSettings | None = None, autosave_dir: Path | None = None,
                 warm_up: bool = True, demo_dir: Path | None = None, check_data: bool = True) -> None:
        super().__init__()
        gui_gc.install(QApplication.instance())  # cyclic garbage (Qt objects among it) dies on this thread only
        self.setObjectName("mainWindow")
        self.settings = settings or app_settings()
        self.demo_dir = demo_dir  # where "Try with sample data" writes the digits (None: the app data folder)
        self.check_data = check_data
        self._warm_up = warm_up
        self._shown_once = False
        self.welcome: WelcomeDialog | None = None
        self.checklist: ChecklistDialog | None = None
        self.findings = FindingStore(self)
        self.project = ProjectModel(parent=self)
        self.tasks = TaskManager(self)
        self.runner = TrainingRunner(self)
        self.dataset = DatasetState(self.project, self.tasks, self)
        self.runs = RunHistory(self.project, self.tasks, self)
        self.unsaved_runs = UnsavedRuns(self.project, self.runner, self.runs, self.tasks, self.log, self)
        self.activity = ActivityLog()
        self.context = PaneContext(self.project, self.tasks, self.runner, self.dataset, self.runs, self.log)
        self._close_approved = False
        self._error_boxes: list[QMessageBox] = []
        self._build_layout()
        self._build_menus()
        self._build_status_bar()
        self.autosaver = Autosaver(self.project, autosave_dir, parent=self)
        self._connect()
        self.setAcceptDrops(True)
        self.setWindowIcon(app_icon())
        self._restore_geometry()
        self._update_title()
        self.show_step("data")
        self.runs.refresh()
        self.set_help_visible(str(self.settings.value("help/visible", "false")).lower() in ("true", "1"))
        self.set_developer_models(str(self.settings.value("developer/models", "false")).lower() in ("true", "1"))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._shown_once:
            return
        self._shown_once = True
        if os.environ.get(PROBE_ENV):
            print(f"WORKBENCH_WINDOW_SHOWN {time.time():.6f} torch_loaded={int('torch' in sys.modules)}", flush=True)
            QTimer.singleShot(0, QApplication.quit)
            return
        # Only now load torch (engine warm-up, device detection), so the window appears first.
        QTimer.singleShot(0, self._after_first_show)

    def _after_first_show(self) -> None:
        if not self._warm_up:
            return
        self.tasks.submit("warm-up", jobs.warm_up, label=self.tr("Loading the training engine"),
                          on_error=lambda f: self.log("warning", f"engine warm-up failed: {f.message}"),
                          expected=(Exception,))
        self.tasks.submit("monitors", doctor.register_monitors, label=self.tr("Loading the pitfall doctor"),
                          on_error=lambda f: self.log("warning", f"diagnostics unavailable: {f.message}"),
                          expected=(Exception,))
        self.detect_devices()

    def detect_devices(self) -> None:
        """Which device training will use, shown in the status bar (torch is imported in the background)."""
        self.tasks.submit("devices", jobs.detect_devices, label=self.tr("Looking for a GPU"),
                          on_result=self._on_devices, on_error=lambda f: self.device_status.set_failed(f.message),
                          expected=(Exception,))

    def _on_devices(self, report) -> None:
        self.device_status.set_report(report)
        self.panes["strategy"].set_devices(report)
        if report.problem:
            self.log("warning", report.problem)

    # --- building ---------------------------------------------------------------------------------

    def _build_layout(self) -> None:
        self.steps = StepList()
        self.stack = QStackedWidget()
        self.stack.setObjectName("paneStack")
        self.panes: dict[str, Pane] = {}
        for cls in PANE_CLASSES:
            pane = cls(self.context)
            self.panes[cls.key] = pane
            self.stack.addWidget(pane)
            self.steps.add_step(cls.key, self.tr(cls.title))
            pane.status_changed.connect(lambda p=pane: self.steps.set_status(p.key, p.status()))
            pane.navigate.connect(self.show_step)
            pane.help_toggled.connect(self.set_help_visible)
            self.steps.set_status(cls.key, pane.status())
        central = QWidget()
        central.setObjectName("central")
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.steps)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.log_dock = QDockWidget(self.tr("Activity log"), self)
        self.log_dock.setObjectName("activityDock")
        self.log_dock.setWidget(self.activity)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.log_dock.hide()

    def _connect(self) -> None:
        self.steps.step_selected.connect(self._on_step_selected)
        self.tasks.busy_changed.connect(self._update_busy)
        self.tasks.activity_changed.connect(self._update_busy)
        self.tasks.failed.connect(self.report_failure)
        self.runner.running_changed.connect(self._update_busy)
        self.runner.run_failed.connect(self._on_run_failed)
        self.runner.crashed.connect(lambda message, details: self._error_dialog(
            self.tr("Training stopped by an error"), message, details))
        self.project.dirty_changed.connect(self._update_title)
        self.project.path_changed.connect(self._update_title)
        self.project.changed.connect(self._on_project_changed)
        self.findings.changed.connect(self._show_findings)
        self.runner.finding.connect(lambda event: self.findings.add(event, "run"))
        self.runner.run_started.connect(lambda _: self.findings.clear("run"))
        self.panes["train"].run_cleared.connect(self._on_run_cleared)
        self.runner.run_finished.connect(self._on_run_finished)
        self.runner.running_changed.connect(lambda running: self.tasks.cancel("data-checks") if running else None)
        self.runs.current_changed.connect(self._on_current_run)
        self._data_check_timer = QTimer(self)
        self._data_check_timer.setSingleShot(True)
        self._data_check_timer.setInterval(DATA_CHECK_DELAY_MS)
        self._data_check_timer.timeout.connect(self.run_data_checks)
        self.dataset.changed.connect(self._on_dataset_changed)

    # --- help, findings and checklist -------------------------------------------------------------

    def set_help_visible(self, visible: bool) -> None:
        """Show or hide the help panel of every pane (remembered between sessions)."""
        for pane in self.panes.values():
            pane.set_help_visible(visible)
        self.help_action.setChecked(visible)
        self.settings.setValue("help/visible", visible)

    # --- steps ------------------------------------------------------------------------------------

    def show_step(self, key: str) -> None:
        self.steps.select(key)

    def show_runs(self) -> None:
        """The Runs view: every run in the index, to filter, compare, delete or resume."""
        from workbench.qt.runs_view import RunsView

        view = RunsView(self.tasks, self.project.effective_config().runs_dir, parent=self)
        view.resume_requested.connect(self.resume_run)
        view.runs_changed.connect(self.runs.refresh)
        view.show()

    def resume_run(self, run_dir: str) -> None:
        """Continue a stopped or interrupted run from its last checkpoint."""
        self.show_step("train")
        self.runner.start(self.project.effective_config(), resume=run_dir)

    def _on_step_selected(self, key: str) -> None:
        pane = self.panes[key]
        self.stack.setCurrentWidget(pane)
        pane.shown()

    def current_pane(self) -> Pane:
        return self.stack.currentWidget()

    # --- errors, log and busy indicator -----------------------------------------------------------

    def log(self, level: str, message: str) -> None:
        self.activity.append_entry(level, message)

    def report_failure(self, failure: TaskFailure) -> None:
        """An unexpected error in a background task: log it and show it, never swallow it."""
        self._error_dialog(self.tr("{0} failed").format(failure.label), failure.message, failure.details)

    def _error_dialog(self, title: str, message: str, details: str = "") -> None:
        self.log("error", f"{title}: {message}" + (f"\n{details}" if details else ""))
        box = dialogs.show_error(self, title, message, details)
        self._error_boxes = [b for b in self._error_boxes if b.isVisible()] + [box]

    def _on_run_failed(self, event) -> None:
        if self.runner.stop_requested and not event.run_dir:
            return  # the user stopped it during data preparation; the Train pane logs that
        self._error_dialog(self.tr("Training failed"), event.reason)

    def _update_busy(self, *_: object) -> None:
        activity = self.tasks.activity()
        if self.runner.is_running:
            activity = ", ".join(filter(None, [self.tr("Training"), activity]))
        self.busy_label.setText(activity)
        self.busy_bar.setVisible(bool(activity))

    def _about(self) -> None:
        QMessageBox.about(self, self.tr("About Workbench"), self.tr(
            "<h3>Workbench {0}</h3><p>Train image classifiers on your own data, and check that the model really "
            "learned what you think it learned.</p>").format(workbench.__version__))

    # --- geometry and closing ---------------------------------------------------------------------

    def _restore_geometry(self) -> None:
        geometry, state = load_geometry(self.settings)
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1360, 880)
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._close_approved:
            if self.runner.is_running and not dialogs.confirm_stop_training(self):
                event.ignore()
                return
            if not self._confirm_discard():
                event.ignore()
                return
            self._close_approved = True
        if self.runner.is_busy:
            # Stop cooperatively; the engine saves a checkpoint (or cancels the end-of-run diagnostics).
            # Close again once the thread has ended.
            self.runner.thread_finished.connect(self._close_after_stop, Qt.ConnectionType.SingleShotConnection)
            if not self.runner.stop_requested:
                if self.runner.is_running:
                    self.panes["train"].stop()
                else:
                    self.runner.stop()  # only end-of-run diagnostics are left: cancel them
            self.statusBar().showMessage(self.tr("Stopping training and saving a checkpoint…"))
            event.ignore()
            return
        save_geometry(self.settings, self.saveGeometry(), self.saveState())
        remember_session(self.settings, self.project.path, self.current_pane().key)
        self.autosaver.stop()
        self.autosaver.clear()
        self.tasks.cancel_all()
        self.tasks.wait(10_000)
        self.runner.wait()
        event.accept()

    def _close_after_stop(self) -> None:
        QTimer.singleShot(0, self.close)


def main(argv: list[str] | None = None) -> int:
    """Open the main window; `argv` may name a project file (.toml) or a dataset folder to load."""
    parser = argparse.ArgumentParser(prog="workbench", description="Open the Workbench window.")
    parser.add_argument("path", nargs="?", help="a project file (.toml) or a dataset folder to open")
    args, qt_args = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    app = create_application(qt_args)
    probing = bool(os.environ.get(PROBE_ENV))
    recovery = None if probing else Autosaver.find_recovery()
    window = MainWindow()
    reopened = False
    if args.path:
        window.load_dropped(Path(args.path).expanduser().resolve())
    elif recovery is not None:
        if dialogs.ask_recover(window, recovery.saved_at):
            window.recover(recovery)
        else:
            window.autosaver.clear()
    elif not probing:
        reopened = window.restore_session()
    window.show()
    if not probing and not args.path and recovery is None and not reopened and is_first_run(window.settings):
        QTimer.singleShot(0, window.show_welcome)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
