"""The application: QApplication set-up, the main window with its step list, menus and settings, and `main()`.

The window owns the shared objects (project, background tasks, training runner, dataset state, run
history) and the seven wizard panes. It handles New/Open/Save, recent projects and window geometry
(QSettings), automatic backups, dropping a folder to load it as a dataset, and closing safely while a
run is going.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QFont, QKeySequence
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
from workbench.qt import dialogs, jobs
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
from workbench.qt.resources import app_icon, style_sheet
from workbench.qt.run_history import RunHistory
from workbench.qt.runner import SWITCH_INTERVAL_S, TrainingRunner
from workbench.qt.tasks import TaskFailure, TaskManager
from workbench.qt.widgets.activity_log import ActivityLog
from workbench.qt.widgets.step_list import StepList

PANE_CLASSES: tuple[type[Pane], ...] = (DataPane, SamplesPane, ModelPane, StrategyPane, TrainPane, EvaluatePane,
                                        ExportPane)
DATASET_SUFFIXES = (".csv", ".tsv")


class MainWindow(QMainWindow):
    """The Workbench window: step list on the left, the current step's pane on the right."""

    def __init__(self, settings: QSettings | None = None, autosave_dir: Path | None = None,
                 warm_up: bool = True) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.settings = settings or app_settings()
        self.project = ProjectModel(parent=self)
        self.tasks = TaskManager(self)
        self.runner = TrainingRunner(self)
        self.dataset = DatasetState(self.project, self.tasks, self)
        self.runs = RunHistory(self.project, self.tasks, self)
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
        if warm_up:
            self.tasks.submit("warm-up", jobs.warm_up, label=self.tr("Loading the training engine"),
                              on_error=lambda f: self.log("warning", f"engine warm-up failed: {f.message}"),
                              expected=(Exception,))

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
        self._action(self.tr("&About Workbench"), self._about, key.HelpContents, help_menu)
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
        bar.addPermanentWidget(self.busy_label)
        bar.addPermanentWidget(self.busy_bar)

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

    # --- steps ------------------------------------------------------------------------------------

    def show_step(self, key: str) -> None:
        self.steps.select(key)

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


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication, with Workbench's names (for QSettings and data folders), style and font."""
    app = QApplication.instance()
    if app is None:
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
    app.setStyleSheet(style_sheet())
    app.setWindowIcon(app_icon())
    return app


def main(argv: list[str] | None = None) -> int:
    """Open the main window; `argv` may name a project file (.toml) or a dataset folder to load."""
    parser = argparse.ArgumentParser(prog="workbench", description="Open the Workbench window.")
    parser.add_argument("path", nargs="?", help="a project file (.toml) or a dataset folder to open")
    args, qt_args = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    app = create_application(qt_args)
    recovery = Autosaver.find_recovery()
    window = MainWindow()
    if args.path:
        window.load_dropped(Path(args.path).expanduser().resolve())
    elif recovery is not None:
        if dialogs.ask_recover(window, recovery.saved_at):
            window.recover(recovery)
        else:
            window.autosaver.clear()
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
