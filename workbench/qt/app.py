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

from PySide6.QtCore import QLibraryInfo, QLocale, QSettings, Qt, QTimer, QTranslator
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QFont, QGuiApplication, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QStackedWidget,
    QWidget,
)

import workbench
from workbench.core.config import ConfigError
from workbench.qt import dialogs, doctor, jobs
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
from workbench.qt.recent import add_recent_project, app_settings, load_geometry, recent_projects, save_geometry
from workbench.qt.resources import app_icon, resources_dir
from workbench.qt.run_history import RunHistory
from workbench.qt.runner import SWITCH_INTERVAL_S, TrainingRunner
from workbench.qt.statusbar import DeviceStatus
from workbench.qt.tasks import TaskFailure, TaskManager
from workbench.qt.theme import ThemeController
from workbench.qt.unsaved_runs import UnsavedRuns
from workbench.qt.welcome import WelcomeDialog, is_first_run, mark_welcomed
from workbench.qt.widgets.activity_log import ActivityLog
from workbench.qt.widgets.checklist import ChecklistDialog
from workbench.qt.widgets.findings import FindingStore
from workbench.qt.widgets.step_list import StepList

PANE_CLASSES: tuple[type[Pane], ...] = (DataPane, SamplesPane, ModelPane, StrategyPane, TrainPane, EvaluatePane,
                                        ExportPane)
DATASET_SUFFIXES = (".csv", ".tsv")
PROBE_ENV = "WORKBENCH_STARTUP_PROBE"
DATA_CHECK_DELAY_MS = 1500


class MainWindow(QMainWindow):
    """The Workbench window: step list on the left, the current step's pane on the right."""

    def __init__(self, settings: QSettings | None = None, autosave_dir: Path | None = None,
                 warm_up: bool = True, demo_dir: Path | None = None, check_data: bool = True) -> None:
        super().__init__()
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

    def _action(self, text: str, slot, shortcut=None, menu: QMenu | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        if menu is not None:
            menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu(self.tr("&File"))
        key = QKeySequence.StandardKey
        self.new_action = self._action(self.tr("&New project"), self.new_project, key.New, file_menu)
        self.open_action = self._action(self.tr("&Open project…"), self.open_project_dialog, key.Open, file_menu)
        self.recent_menu = file_menu.addMenu(self.tr("Open &recent"))
        self.recent_menu.setObjectName("recentMenu")
        file_menu.addSeparator()
        self.save_action = self._action(self.tr("&Save"), self.save_project, key.Save, file_menu)
        self.save_as_action = self._action(self.tr("Save &as…"), self.save_project_as, key.SaveAs, file_menu)
        file_menu.addSeparator()
        self._action(self.tr("Open dataset &folder…"), lambda: self.panes["data"]._choose_folder(),
                     "Ctrl+Shift+O", file_menu)
        file_menu.addSeparator()
        self._action(self.tr("&Quit"), self.close, key.Quit, file_menu)

        view_menu = bar.addMenu(self.tr("&View"))
        for number, cls in enumerate(PANE_CLASSES, start=1):
            self._action(self.tr(cls.title), lambda _=False, k=cls.key: self.show_step(k), f"Ctrl+{number}", view_menu)
        view_menu.addSeparator()
        self.checklist_action = self._action(self.tr("Pitfall &checklist…"), self.show_checklist, "Ctrl+K", view_menu)
        self._action(self.tr("&Runs…"), self.show_runs, "Ctrl+Shift+R", view_menu)
        self.help_action = self._action(self.tr("&Help panel"), lambda on: self.set_help_visible(on), None, view_menu)
        self.help_action.setCheckable(True)
        toggle = self.log_dock.toggleViewAction()
        toggle.setText(self.tr("Activity &log"))
        toggle.setShortcut(QKeySequence("Ctrl+L"))
        view_menu.addAction(toggle)

        train_menu = bar.addMenu(self.tr("&Training"))
        train = self.panes["train"]
        self._action(self.tr("&Start"), lambda: (self.show_step("train"), train.start()), None, train_menu)
        self._action(self.tr("&Pause"), self.runner.pause, None, train_menu)
        self._action(self.tr("&Resume"), train.resume, None, train_menu)
        self._action(self.tr("S&top"), train.stop, "Ctrl+.", train_menu)

        help_menu = bar.addMenu(self.tr("&Help"))
        self._action(self.tr("&Welcome…"), self.show_welcome, None, help_menu)
        self._action(self.tr("&About Workbench"), self._about, None, help_menu)
        self._refresh_recent_menu()

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.busy_label = QLabel()
        self.busy_label.setObjectName("busyLabel")
        self.busy_bar = QProgressBar()
        self.busy_bar.setObjectName("busyIndicator")
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setFixedWidth(120)
        self.busy_bar.setMaximumHeight(12)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.hide()
        self.device_status = DeviceStatus()
        bar.addPermanentWidget(self.busy_label)
        bar.addPermanentWidget(self.busy_bar)
        bar.addPermanentWidget(self.device_status)

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
        self.runner.run_finished.connect(self._on_run_finished)
        self.runner.running_changed.connect(lambda running: self.tasks.cancel("data-checks") if running else None)
        self.runs.current_changed.connect(self._on_current_run)
        self._data_check_timer = QTimer(self)
        self._data_check_timer.setSingleShot(True)
        self._data_check_timer.setInterval(DATA_CHECK_DELAY_MS)
        self._data_check_timer.timeout.connect(self.run_data_checks)
        self.dataset.changed.connect(self._on_dataset_changed)

    # --- first run: welcome and sample data -------------------------------------------------------

    def show_welcome(self) -> WelcomeDialog:
        """The welcome dialog (opened window-modal, without a nested event loop)."""
        if self.welcome is None:
            self.welcome = WelcomeDialog(self)
            self.welcome.chosen.connect(self._on_welcome_choice)
            self.welcome.finished.connect(lambda _: mark_welcomed(self.settings, not self.welcome.again.isChecked()))
        self.welcome.again.setChecked(False)
        self.welcome.open()
        return self.welcome

    def _on_welcome_choice(self, choice: str) -> None:
        if choice == "sample":
            self.start_with_sample_data()
        elif choice == "open":
            self.show_step("data")
            self.panes["data"]._choose_folder()

    def start_with_sample_data(self) -> None:
        """Write the bundled digits (in the background), then load them with the demo's settings."""
        if not self._confirm_discard():
            return
        self.statusBar().showMessage(self.tr("Preparing the sample data…"))
        self.tasks.submit("demo-data", _write_demo, self.demo_dir, label=self.tr("Writing the sample data"),
                          on_result=self._load_demo)

    def _load_demo(self, dataset: Path) -> None:
        from workbench.core.demo import demo_config

        runs_dir = self.project.config.runs_dir
        config = demo_config(dataset, Path(runs_dir) if runs_dir else Path("runs"))
        config.runs_dir = runs_dir  # keep where this window stores runs (empty: beside the project file)
        self.project.set_config(config, None, dirty=True)
        self.show_step("data")
        self.statusBar().showMessage(self.tr("Sample data loaded: handwritten digits, 10 classes"), 6000)
        self.log("info", self.tr("Loaded the sample data {0} with the demo settings").format(dataset))

    # --- help, findings and checklist -------------------------------------------------------------

    def set_help_visible(self, visible: bool) -> None:
        """Show or hide the help panel of every pane (remembered between sessions)."""
        for pane in self.panes.values():
            pane.set_help_visible(visible)
        self.help_action.setChecked(visible)
        self.settings.setValue("help/visible", visible)

    def show_checklist(self) -> ChecklistDialog:
        if self.checklist is None:
            self.checklist = ChecklistDialog(self.findings, self)
            self.checklist.view.navigate.connect(self.show_step)
        self.checklist.show()
        self.checklist.raise_()
        return self.checklist

    def _show_findings(self) -> None:
        for key, pane in self.panes.items():
            pane.findings.set_findings(self.findings.for_pane(key))

    def _on_dataset_changed(self) -> None:
        self.findings.clear("data")
        if self.check_data and self.dataset.scan is not None and not self.dataset.scanning:
            self._data_check_timer.start()
        else:
            self._data_check_timer.stop()
            self.tasks.cancel("data-checks")

    def run_data_checks(self) -> None:
        """The engine's data checks (duplicates, blank images, imbalance, labels, …) in the background."""
        if self.dataset.scan is None or self.runner.is_running:
            return  # a run makes its own data checks; two at once would only slow the window
        self.tasks.submit("data-checks", doctor.data_checks, self.project.effective_config(),
                          label=self.tr("Checking the data"),
                          on_result=self._on_data_findings,
                          on_error=lambda f: self.log("warning", self.tr("Data checks failed: {0}").format(f.message)),
                          expected=(Exception,))

    def _on_run_finished(self, event) -> None:
        """The run's checks are done; where its own data checks ran to the end, they supersede the earlier ones
        (the rule the report follows, `core.checklist.run_rechecked_data`)."""
        from workbench.core.checklist import run_rechecked_data
        from workbench.core.runs import read_toml

        if run_rechecked_data(read_toml(Path(event.run_dir) / "config.toml"), event.status):
            self.findings.replace("data", [])
        self.findings.mark_checked("run")

    def _on_data_findings(self, found: list) -> None:
        """Show the data checks' findings, and keep them beside the runs for the report."""
        from workbench.core.dataset_findings import save_data_findings

        self.findings.replace("data", found)
        config = self.project.effective_config()
        try:
            save_data_findings(config.runs_dir, config.data.source, found)
        except OSError as error:
            self.log("warning", self.tr("The data checks' findings could not be stored: {0}").format(error))

    def _on_current_run(self, run_dir: str) -> None:
        """A re-opened run shows the findings it stored (findings.json)."""
        if self.runner.is_running or not run_dir:
            return
        self.tasks.submit("run-findings", doctor.stored_findings, run_dir, label=self.tr("Reading findings"),
                          on_result=lambda found: self.findings.replace("run", found) if found is not None
                          else self.findings.clear("run"), expected=(OSError, ValueError))

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

    # --- project files ----------------------------------------------------------------------------

    def _confirm_discard(self) -> bool:
        """True when it is fine to replace the current project (saved, discarded, or nothing to lose)."""
        if not self.project.dirty:
            return True
        answer = dialogs.ask_save_changes(self)
        if answer == "save":
            return self.save_project()
        return answer == "discard"

    def new_project(self) -> bool:
        if not self._confirm_discard():
            return False
        self.project.new()
        self.log("info", self.tr("New project"))
        self.show_step("data")
        return True

    def open_project_dialog(self) -> bool:
        if not self._confirm_discard():
            return False
        start = str(self.project.path.parent) if self.project.path else ""
        path = dialogs.choose_project_to_open(self, start)
        return self.open_project(path, confirm=False) if path else False

    def open_project(self, path: str | Path, confirm: bool = True) -> bool:
        if confirm and not self._confirm_discard():
            return False
        try:
            self.project.open(path)
        except ConfigError as error:
            self._error_dialog(self.tr("Cannot open project"), str(error))
            return False
        add_recent_project(self.settings, path)
        self._refresh_recent_menu()
        self.log("info", self.tr("Opened {0}").format(path))
        return True

    def save_project(self) -> bool:
        if self.project.path is None:
            return self.save_project_as()
        return self._save_to(self.project.path)

    def save_project_as(self) -> bool:
        start = str(self.project.path) if self.project.path else f"{self.project.config.name}.toml"
        path = dialogs.choose_project_to_save(self, start)
        return self._save_to(Path(path)) if path else False

    def _save_to(self, path: Path) -> bool:
        try:
            saved = self.project.save(path)
        except (ConfigError, OSError) as error:
            self._error_dialog(self.tr("Cannot save project"), str(error))
            return False
        add_recent_project(self.settings, saved)
        self.unsaved_runs.adopt()  # runs made before the first save follow the project
        self._refresh_recent_menu()
        self.statusBar().showMessage(self.tr("Saved {0}").format(saved), 4000)
        self.log("info", self.tr("Saved {0}").format(saved))
        return True

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = recent_projects(self.settings)
        for path in paths:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _=False, p=path: self.open_project(p))
        self.recent_menu.setEnabled(bool(paths))

    def recover(self, recovery) -> None:
        """Load an automatic backup (left by a crash) as unsaved changes."""
        self.project.set_config(recovery.config, recovery.project_path, dirty=True)
        self.log("info", self.tr("Recovered unsaved work from {0}").format(recovery.saved_at))

    def _on_project_changed(self, key: str) -> None:
        if key in ("", "name"):
            self._update_title()

    def _update_title(self, *_: object) -> None:
        path = self.project.path
        name = path.name if path is not None else self.project.config.name
        self.setWindowTitle(f"{name}[*] — Workbench")
        self.setWindowModified(self.project.dirty)

    # --- drag and drop ----------------------------------------------------------------------------

    @staticmethod
    def _dropped_path(event) -> Path | None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if len(urls) != 1 or not urls[0].isLocalFile():
            return None
        path = Path(urls[0].toLocalFile())
        if path.is_dir() or path.suffix.lower() in (*DATASET_SUFFIXES, ".toml"):
            return path
        return None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_path(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        path = self._dropped_path(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.load_dropped(path)

    def load_dropped(self, path: Path) -> None:
        """A folder or CSV becomes the dataset; a .toml file is opened as a project."""
        if path.suffix.lower() == ".toml":
            self.open_project(path)
            return
        self.panes["data"].set_source(str(path))
        self.show_step("data")
        self.log("info", self.tr("Loaded dataset {0}").format(path))

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
        if self.runner.is_running:
            # Stop cooperatively; the engine saves a checkpoint. Close again once the thread has ended.
            self.runner.thread_finished.connect(self._close_after_stop, Qt.ConnectionType.SingleShotConnection)
            if not self.runner.stop_requested:
                self.panes["train"].stop()
            self.statusBar().showMessage(self.tr("Stopping training and saving a checkpoint…"))
            event.ignore()
            return
        save_geometry(self.settings, self.saveGeometry(), self.saveState())
        self.autosaver.stop()
        self.autosaver.clear()
        self.tasks.cancel_all()
        self.tasks.wait(10_000)
        self.runner.wait()
        event.accept()

    def _close_after_stop(self) -> None:
        QTimer.singleShot(0, self.close)


def _write_demo(dest: Path | None) -> Path:
    from workbench.core.demo import write_digits_dataset

    return write_digits_dataset(dest)


def install_translator(app: QApplication, locale: QLocale | None = None) -> list[QTranslator]:
    """Translations for the system locale: Qt's own, and resources/i18n/workbench_<locale>.qm when it exists."""
    locale = locale or QLocale.system()
    installed = []
    for name, folder in (("qtbase", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)),
                         ("workbench", str(resources_dir() / "i18n"))):
        translator = QTranslator(app)
        if translator.load(locale, name, "_", folder):
            app.installTranslator(translator)
            installed.append(translator)
    return installed


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication, with Workbench's names (for QSettings and data folders), theme, font and translations."""
    app = QApplication.instance()
    if app is None:
        # Sharp on fractional scale factors (150 %): pass the exact factor through instead of rounding it.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(["workbench", *(argv or [])])
    app.setOrganizationName("Workbench")
    app.setOrganizationDomain("workbench.local")
    app.setApplicationName("Workbench")
    app.setApplicationDisplayName("Workbench")
    app.setApplicationVersion(workbench.__version__)
    app.setStyle("Fusion")
    # Background threads (engine warm-up, scans, training) run Python code too; a short switch interval
    # lets the GUI thread take the GIL back within half a millisecond, so the window never waits on them.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    font = QFont(app.font())
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
    app.setFont(font)
    if getattr(app, "_workbench_theme", None) is None:
        app._workbench_theme = ThemeController(app)
        app._workbench_translators = install_translator(app)
    app.setWindowIcon(app_icon())
    return app


def main(argv: list[str] | None = None) -> int:
    """Open the main window; `argv` may name a project file (.toml) or a dataset folder to load."""
    parser = argparse.ArgumentParser(prog="workbench", description="Open the Workbench window.")
    parser.add_argument("path", nargs="?", help="a project file (.toml) or a dataset folder to open")
    args, qt_args = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    app = create_application(qt_args)
    probing = bool(os.environ.get(PROBE_ENV))
    recovery = None if probing else Autosaver.find_recovery()
    window = MainWindow()
    if args.path:
        window.load_dropped(Path(args.path).expanduser().resolve())
    elif recovery is not None:
        if dialogs.ask_recover(window, recovery.saved_at):
            window.recover(recovery)
        else:
            window.autosaver.clear()
    window.show()
    if not probing and not args.path and recovery is None and is_first_run(window.settings):
        QTimer.singleShot(0, window.show_welcome)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
