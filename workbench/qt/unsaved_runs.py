"""Runs made while the project had no file yet: they follow the project when it is first saved.

An unsaved project keeps its runs in a per-user folder. This keeps a list of the runs started there and,
once the project has a file (and so a runs folder beside it), moves them into that folder (in the
background; a run still training moves when it ends), so the Runs view, Evaluate and Export keep them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from workbench.core.config import resolve_paths
from workbench.qt import project_model

if TYPE_CHECKING:
    from collections.abc import Callable

    from workbench.qt.project_model import ProjectModel
    from workbench.qt.run_history import RunHistory
    from workbench.qt.runner import TrainingRunner
    from workbench.qt.tasks import TaskManager


def _adopt(run_dirs: list[str], target: str, unsaved_runs_dir: str, source: str) -> Any:
    from workbench.core.dataset_findings import merge_store
    from workbench.core.run_moves import adopt_runs

    merge_store(unsaved_runs_dir, target, source)  # the data checks' findings, even with no run made yet
    return adopt_runs(run_dirs, target)


class UnsavedRuns(QObject):
    """Moves the runs of a not-yet-saved project into its runs folder after the first save."""

    def __init__(self, project: ProjectModel, runner: TrainingRunner, runs: RunHistory, tasks: TaskManager,
                 log: Callable[[str, str], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project, self.runner, self.runs, self.tasks, self.log = project, runner, runs, tasks, log
        self.pending: list[str] = []
        self.first_save = False  # the project just got its first file: what it kept while unsaved follows it
        self._had_no_path = project.path is None
        project.path_changed.connect(self._on_path_changed)
        runner.run_started.connect(self._on_run_started)
        runner.thread_finished.connect(self.adopt)
        project.changed.connect(self._on_project_changed)

    def _on_path_changed(self, path: Any) -> None:
        self.first_save = path is not None and self._had_no_path
        self._had_no_path = path is None

    def _on_project_changed(self, key: str) -> None:
        if key == "":  # New, Open or a recovery replaced the project: the waiting runs were another project's
            self.pending.clear()
            self.first_save = False

    def _on_run_started(self, event: Any) -> None:
        if self.project.path is None and event.run_dir and event.run_dir not in self.pending:
            self.pending.append(str(event.run_dir))

    def adopt(self) -> None:
        """Move the waiting runs that are not training into the project's runs folder (once it has a file);
        called after a save and when a run ends."""
        if self.project.path is None or not (self.pending or self.first_save):
            return
        busy = self.runner.run_dir if self.runner.is_busy else ""  # training, or its end-of-run checks writing
        ready = [d for d in self.pending if d != busy]
        self.pending = [d for d in self.pending if d == busy]
        self.first_save = False
        config = self.project.effective_config()
        unsaved = resolve_paths(self.project.config, project_model.default_runs_base()).runs_dir
        self.tasks.submit("adopt-runs", _adopt, ready, config.runs_dir, unsaved, config.data.source,
                          label=self.tr("Moving runs beside the project"), on_result=self._on_moved, expected=(OSError,))

    def _on_moved(self, result: Any) -> None:
        for problem in result.problems:
            self.log("warning", problem)
        if result.moved:
            self.log("info", self.tr("Moved {0} run(s) made before the first save into {1}").format(
                len(result.moved), Path(next(iter(result.moved.values()))).parent))
        current = result.moved.get(self.runs.current, "")
        self.runs.refresh(select=current)
