"""The Evaluate pane's "what the model looks at" section: stored or computed attribution maps of the current run.

It owns its background work (read the stored maps, compute them on request) and its state, so the pane only
tells it which run is current.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from workbench.qt import jobs
from workbench.qt.eval_results import AttributionMaps
from workbench.qt.panes.base import group, hint
from workbench.qt.tasks import TaskFailure, TaskManager
from workbench.qt.widgets.attribution_maps import AttributionMapsView


class AttributionPanel(QWidget):
    """Per-class mean attribution maps on validation images, with the shortcut check's findings."""

    def __init__(self, tasks: TaskManager, expected: tuple[type[BaseException], ...],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.expected = expected
        self.run_dir = ""
        self.attributions: AttributionMaps | None = None  # what the maps view shows
        self.running = False
        self.error = ""
        self.button = QPushButton(self.tr("Compute attribution maps"))
        self.button.setObjectName("attributionButton")
        self.button.clicked.connect(self.compute)
        note = hint(self.tr(
            "For each class, where the model looked in correctly predicted validation images (the test set stays "
            "locked). A class whose map is one small bright spot, or the border, rather than the object may rest on a "
            "shortcut such as a marker or a watermark."))
        self.progress = hint("")
        self.error_label = QLabel()
        self.error_label.setObjectName("fieldError")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        row = QHBoxLayout()
        row.addWidget(note, 1)
        row.addWidget(self.progress, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignTop)
        self.view = AttributionMapsView()
        self.view.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(group(self.tr("What the model looks at (validation images)"), row, self.error_label,
                               self.view))

    def set_run(self, run_dir: str) -> None:
        """Show `run_dir`'s stored maps (if any); nothing of the previous run's maps stays."""
        self.tasks.cancel("attribution-maps")  # maps of the previous run must not land on this one
        self.run_dir = run_dir
        self.attributions = None
        self.running = False
        self.error = ""
        self.view.clear()
        if run_dir:
            self.tasks.submit("stored-attributions", jobs.stored_attribution_maps, run_dir,
                              label=self.tr("Reading attribution maps"),
                              on_result=lambda maps: self._on_stored(run_dir, maps))
        else:
            self.tasks.cancel("stored-attributions")
        self.update_state()

    def compute(self) -> None:
        """Compute the current run's attribution maps on its validation images, in the background."""
        if not self.run_dir:
            return
        run_dir = self.run_dir
        self.running = True
        self.error = ""
        self.progress.setText(self.tr("Starting…"))
        self.update_state()
        self.tasks.submit("attribution-maps", jobs.compute_attribution_maps, run_dir,
                          label=self.tr("Computing attribution maps"), on_result=self._on_computed,
                          on_error=self._on_error, on_progress=self._on_progress, expected=self.expected)

    def _on_computed(self, maps: AttributionMaps) -> None:
        self.running = False
        self._show(maps)

    def _on_stored(self, run_dir: str, maps: AttributionMaps | None) -> None:
        if maps is not None and not self.running and run_dir == self.run_dir:  # a computation will replace them
            self._show(maps)

    def _show(self, maps: AttributionMaps) -> None:
        self.attributions = maps
        self.error = ""
        self.view.set_maps(maps.class_names, maps.maps, maps.mean_images, [f.as_dict() for f in maps.findings],
                           maps.caption)
        self.update_state()

    def _on_error(self, failure: TaskFailure) -> None:
        self.running = False
        self.error = failure.message
        self.update_state()

    def _on_progress(self, done: int, total: int, message: str) -> None:
        self.progress.setText(f"{message} {done}/{total}" if total else message)

    def update_state(self) -> None:
        self.button.setEnabled(bool(self.run_dir) and not self.running)
        if self.running:
            self.button.setText(self.tr("Computing…"))
        elif self.attributions is not None and self.attributions.split == "val":
            self.button.setText(self.tr("Recompute"))
        else:
            self.button.setText(self.tr("Compute attribution maps"))
        if not self.running:
            self.progress.setText("")
        self.error_label.setText(self.tr("Could not compute the attribution maps: {0}").format(self.error)
                                 if self.error else "")
        self.error_label.setVisible(bool(self.error))
        self.view.setVisible(self.attributions is not None)
