"""What every pane is handed: the project, the background tasks, the runner, and shared derived state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from workbench.qt.dataset_state import DatasetState
from workbench.qt.project_model import ProjectModel
from workbench.qt.run_history import RunHistory
from workbench.qt.runner import TrainingRunner
from workbench.qt.tasks import TaskManager


@dataclass
class PaneContext:
    project: ProjectModel
    tasks: TaskManager
    runner: TrainingRunner
    dataset: DatasetState
    runs: RunHistory
    log: Callable[[str, str], None]  # (level, message) into the activity log
