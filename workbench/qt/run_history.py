"""The runs stored in the project's runs folder, refreshed in the background.

Evaluate and Export pick a run from here, so re-opening a project finds its last run again. Only a run of the
project's own dataset is chosen by default: a new or other project never shows another dataset's results.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from PySide6.QtCore import QObject, Signal

from workbench.qt import jobs
from workbench.qt.project_model import ProjectModel, key_affects
from workbench.qt.tasks import TaskFailure, TaskManager

_USABLE = ("completed", "stopped", "early_stopped")


class RunHistory(QObject):
    """A list of RunRecord (newest first) plus the run the user is looking at."""

    changed = Signal()
    current_changed = Signal(str)  # run folder, "" when none

    def __init__(self, project: ProjectModel, tasks: TaskManager, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._project = project
        self._tasks = tasks
        self.runs: list[Any] = []
        self.error = ""
        self._current = ""
        project.changed.connect(self._on_project_changed)

    @property
    def current(self) -> str:
        return self._current

    def set_current(self, run_dir: str) -> None:
        if run_dir != self._current:
            self._current = run_dir
            self.current_changed.emit(run_dir)

    def record(self, run_dir: str) -> Any | None:
        return next((r for r in self.runs if r.run_dir == run_dir), None)

    def usable_runs(self) -> list[Any]:
        """Runs with a saved model (finished, stopped or stopped early)."""
        return [r for r in self.runs if r.status in _USABLE]

    def project_runs(self) -> list[Any]:
        """Usable runs of this project's dataset, newest first: the only ones chosen without being picked."""
        source = self._project.effective_config().data.source
        if not source:
            return []
        here = os.path.normpath(source)
        return [r for r in self.usable_runs() if r.dataset and os.path.normpath(r.dataset) == here]

    def interrupted_run(self) -> Any | None:
        """The newest run of this project's dataset that the index still calls running (or, rebuilt from the folders,
        interrupted) but that has a checkpoint: the app closed or crashed while it trained (the caller knows whether
        this window is training it)."""
        source = self._project.effective_config().data.source
        here = os.path.normpath(source) if source else ""
        for record in self.runs:
            ours = here and record.dataset and os.path.normpath(record.dataset) == here
            if ours and record.status in ("running", "interrupted"):
                return record if jobs.is_resumable(record.run_dir, record.status) else None
        return None

    def _on_project_changed(self, key: str) -> None:
        if key_affects(key, "runs_dir"):
            self.set_current("")
            self.refresh()
        elif key_affects(key, "data.source"):
            # Another project or dataset: the current run is another dataset's results, so choose again.
            ours = self.project_runs()
            if self.record(self._current) not in ours:
                self.set_current(ours[0].run_dir if ours else "")

    def refresh(self, select: str = "") -> None:
        """Re-read the runs folder; `select` (a run folder) becomes current once the list is in."""
        runs_dir = self._project.effective_config().runs_dir
        self._tasks.submit(
            "runs", jobs.list_runs, runs_dir, label=self.tr("Reading runs"),
            on_result=lambda runs: self._on_listed(runs, select),
            on_error=self._on_failed, expected=(OSError, ValueError, sqlite3.Error),
        )

    def _on_listed(self, runs: list[Any], select: str) -> None:
        self.runs, self.error = runs, ""
        self.changed.emit()
        ours = self.project_runs()
        if select:
            self.set_current(select)
        elif not self._current or self.record(self._current) is None:
            self.set_current(ours[0].run_dir if ours else "")

    def _on_failed(self, failure: TaskFailure) -> None:
        self.runs, self.error = [], failure.message
        self.changed.emit()
