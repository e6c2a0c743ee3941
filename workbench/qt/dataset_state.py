"""What the GUI knows about the project's dataset: the scan, the splits and the normalisation statistics.

It follows the project: a new source or layout triggers a scan, other split settings a re-split,
preprocessing changes new statistics. All of it runs as background tasks; panes listen to
`changed` and `stats_changed` and read the results from here.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from workbench.core.data.errors import DatasetError
from workbench.qt import jobs
from workbench.qt.project_model import ProjectModel, key_affects
from workbench.qt.tasks import TaskFailure, TaskManager

_STATS_KEYS = ("data", "preprocessing.channels", "preprocessing.normalization", "preprocessing.image_size",
               "preprocessing.resize_mode")


class DatasetState(QObject):
    """Scan, split and statistics of the current project's dataset."""

    changed = Signal()  # overview, error or scanning state changed
    stats_changed = Signal()
    progress = Signal(int, int, str)

    def __init__(self, project: ProjectModel, tasks: TaskManager, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._project = project
        self._tasks = tasks
        self.overview: jobs.DatasetOverview | None = None
        self.error = ""
        self.error_skipped: tuple = ()  # the unreadable files a failed scan's message refers to
        self.scanning = False
        self.stats: Any = None
        self.stats_error = ""
        self.stats_running = False
        self._scan_timer = self._single_shot(150, self.rescan)
        self._split_timer = self._single_shot(100, self.resplit)
        self._stats_timer = self._single_shot(800, self.recompute_stats)
        project.changed.connect(self._on_project_changed)

    def _single_shot(self, msecs: int, slot) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(msecs)
        timer.timeout.connect(slot)
        return timer

    # --- reading ----------------------------------------------------------------------------------

    @property
    def scan(self):
        return self.overview.scan if self.overview is not None else None

    @property
    def class_names(self) -> list[str]:
        return list(self.scan.classes) if self.scan is not None else []

    @property
    def in_channels(self) -> int | None:
        """Channels the network will see: from the settings, else from the statistics, else unknown."""
        channels = self._project.config.preprocessing.channels
        if channels != "auto":
            return 1 if channels == "grayscale" else 3
        if self.stats is not None:
            return len(self.stats.mean)
        return None

    # --- reacting to the project ------------------------------------------------------------------

    def _on_project_changed(self, key: str) -> None:
        if key_affects(key, "data.source", "data.layout"):
            self.scanning = bool(self._project.config.data.source)
            self._scan_timer.start()
        elif key_affects(key, "data"):
            self._split_timer.start()
        if key_affects(key, *_STATS_KEYS):
            self._stats_timer.start()

    def rescan(self) -> None:
        data = self._project.config.data
        self.stats = None
        self.stats_error = ""
        if not data.source:
            self._tasks.cancel("scan")
            self.overview, self.error, self.error_skipped, self.scanning = None, "", (), False
            self.changed.emit()
            self.stats_changed.emit()
            return
        self.scanning = True
        self.overview, self.error, self.error_skipped = None, "", ()  # the last source's are not this one's
        self.changed.emit()
        self._tasks.submit(
            "scan", jobs.scan_dataset, data, label=self.tr("Scanning dataset"),
            on_result=self._on_scanned, on_error=self._on_scan_failed,
            on_progress=self.progress.emit, expected=(DatasetError, OSError),
        )

    def _on_scanned(self, overview: jobs.DatasetOverview) -> None:
        self.overview, self.error, self.error_skipped, self.scanning = overview, "", (), False
        self.changed.emit()
        self.recompute_stats()

    def _on_scan_failed(self, failure: TaskFailure) -> None:
        self.overview, self.error, self.scanning = None, failure.message, False
        self.error_skipped = tuple(getattr(failure.exception, "skipped", ()))
        self.changed.emit()
        self.stats_changed.emit()

    def resplit(self) -> None:
        if self.scan is None:
            return
        self._tasks.submit("split", jobs.resplit, self.scan, self._project.config.data,
                           label=self.tr("Splitting dataset"), on_result=self._on_resplit)

    def _on_resplit(self, overview: jobs.DatasetOverview) -> None:
        self.overview = overview
        self.changed.emit()

    def recompute_stats(self) -> None:
        if self.scan is None or self.scanning:
            return
        self.stats_running = True
        self.stats_changed.emit()
        self._tasks.submit(
            "stats", jobs.norm_stats, self._project.effective_config(), label=self.tr("Computing statistics"),
            on_result=self._on_stats, on_error=self._on_stats_failed, expected=(ValueError, OSError),
        )

    def _on_stats(self, stats: Any) -> None:
        self.stats, self.stats_error, self.stats_running = stats, "", False
        self.stats_changed.emit()

    def _on_stats_failed(self, failure: TaskFailure) -> None:
        self.stats, self.stats_error, self.stats_running = None, failure.message, False
        self.stats_changed.emit()
