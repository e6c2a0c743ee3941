"""The main window's documents: the first-run welcome and sample data, New/Open/Save, recent projects, crash
recovery, the window title, and dropping a folder or project file (a mixin of `MainWindow`)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QDragEnterEvent, QDropEvent

from workbench.core.config import ConfigError
from workbench.qt import dialogs, jobs
from workbench.qt.recent import add_recent_project, recent_projects
from workbench.qt.session import last_session
from workbench.qt.welcome import WelcomeDialog, mark_welcomed

DATASET_SUFFIXES = (".csv", ".tsv")


class ProjectFilesMixin:
    """Open, save and recover projects; the welcome dialog's two ways in."""

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
        self.tasks.submit("demo-data", jobs.write_demo, self.demo_dir, label=self.tr("Writing the sample data"),
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

    # --- project files ----------------------------------------------------------------------------

    def _confirm_discard(self) -> bool:
        """True when it is fine to replace the current project (saved, discarded, or nothing to lose)."""
        if not self.project.dirty:
            return True
        answer = dialogs.ask_save_changes(self)
        if answer == "save":
            return self.save_project()
        return answer == "discard"

    def restore_session(self) -> bool:
        """Reopen the project of the last session and show its step; False when there is none to reopen."""
        path, step = last_session(self.settings)
        if path is None or not self.open_project(path, confirm=False):
            return False
        if step in self.panes:
            self.show_step(step)
        self.statusBar().showMessage(self.tr("Reopened {0}").format(path.name), 6000)
        return True

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
