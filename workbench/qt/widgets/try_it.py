"""Try it: drop images (or choose files) and see the model's three most likely classes for each.

The model is the run chosen in the pane or a `.wbmodel` bundle picked here. Inference runs as a
background task through `predict_images`, which imports the engine only when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QIcon, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from workbench.qt import jobs
from workbench.qt.widgets.image_grid import scaled_pixmap
from workbench.qt.widgets.tables import read_only_table, table_item

if TYPE_CHECKING:
    from workbench.qt.tasks import TaskFailure, TaskManager

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp")
THUMB = 64

class DropZone(QFrame):
    """A dashed box that accepts dropped image files and folders."""

    def __init__(self, on_files: Callable[[list[str]], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropZone")
        self.setAcceptDrops(True)
        self.setMinimumHeight(64)
        self.setStyleSheet("QFrame#dropZone { border: 2px dashed #b8c4d2; border-radius: 8px; background: #f8fafc; }")
        self._on_files = on_files
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 10)
        self.label = QLabel(self.tr("Drop images here, or"))
        self.label.setObjectName("hint")
        self.choose = QPushButton(self.tr("Choose images…"))
        layout.addStretch(1)
        layout.addWidget(self.label)
        layout.addWidget(self.choose)
        layout.addStretch(1)

    @staticmethod
    def image_paths(event: QDragEnterEvent | QDropEvent) -> list[str]:
        paths: list[str] = []
        for url in event.mimeData().urls() if event.mimeData().hasUrls() else []:
            path = Path(url.toLocalFile())
            if path.is_dir():
                paths.extend(str(p) for p in sorted(path.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES)
            elif path.suffix.lower() in IMAGE_SUFFIXES:
                paths.append(str(path))
        return paths

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.image_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = self.image_paths(event)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self._on_files(paths)


class TryItArea(QWidget):
    """Pick a model (the current run or a bundle), drop images, read the top-3 classes of each."""

    def __init__(self, tasks: TaskManager, current_run: Callable[[], str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tryIt")
        self._tasks = tasks
        self._current_run = current_run
        self.bundle = ""
        self.result: dict[str, Any] | None = None
        self.error = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        source_row = QHBoxLayout()
        source_row.addWidget(QLabel(self.tr("Model")))
        self.use_run = QRadioButton(self.tr("the run above"))
        self.use_run.setChecked(True)
        self.use_bundle = QRadioButton(self.tr("a model bundle:"))
        group = QButtonGroup(self)
        group.addButton(self.use_run)
        group.addButton(self.use_bundle)
        self.bundle_label = QLabel(self.tr("none chosen"))
        self.bundle_label.setObjectName("hint")
        choose_bundle = QPushButton(self.tr("Choose bundle…"))
        choose_bundle.clicked.connect(self._choose_bundle)
        source_row.addWidget(self.use_run)
        source_row.addSpacing(12)
        source_row.addWidget(self.use_bundle)
        source_row.addWidget(self.bundle_label, 1)
        source_row.addWidget(choose_bundle)
        layout.addLayout(source_row)
        self.drop = DropZone(self.predict)
        self.drop.choose.clicked.connect(self._choose_images)
        layout.addWidget(self.drop)
        self.status = QLabel()
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.table = read_only_table([self.tr("Image"), self.tr("Most likely"), self.tr("Second"), self.tr("Third")])
        self.table.setIconSize(QSize(THUMB, THUMB))
        self.table.verticalHeader().setDefaultSectionSize(THUMB + 8)
        self.table.setMinimumHeight(220)
        self.table.hide()
        layout.addWidget(self.table)

    # --- choosing ---------------------------------------------------------------------------------

    def model_source(self) -> str:
        return self.bundle if self.use_bundle.isChecked() else self._current_run()

    def set_bundle(self, path: str) -> None:
        self.bundle = path
        self.bundle_label.setText(Path(path).name if path else self.tr("none chosen"))
        self.bundle_label.setToolTip(path)
        self.use_bundle.setChecked(bool(path))

    def _choose_bundle(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Choose a model bundle"), "",
                                              self.tr("Workbench model (*.wbmodel)"))
        if path:
            self.set_bundle(path)

    def _choose_images(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, self.tr("Choose images"), "",
                                                self.tr("Images ({0})").format(" ".join(f"*{s}" for s in IMAGE_SUFFIXES)))
        if paths:
            self.predict(paths)

    # --- predicting -------------------------------------------------------------------------------

    def predict(self, paths: list[str]) -> None:
        source = self.model_source()
        if not source:
            self.status.setText(self.tr("Choose a trained run or a model bundle first."))
            return
        self.error = ""
        self.status.setText(self.tr("Predicting {0} images…").format(len(paths)))
        self._tasks.submit("try-it", jobs.predict_images, source, list(paths), label=self.tr("Predicting"),
                           on_result=self._on_result, on_error=self._on_error,
                           expected=(OSError, ValueError, RuntimeError))

    def _on_result(self, result: dict[str, Any]) -> None:
        self.result = result
        rows = result["rows"]
        self.table.setRowCount(len(rows))
        for row, item in enumerate(rows):
            name = table_item(Path(item["path"]).name)
            name.setIcon(QIcon(QPixmap(scaled_pixmap(item["thumb"], THUMB))))
            name.setToolTip(item["path"])
            self.table.setItem(row, 0, name)
            for column, (label, confidence) in enumerate(item["top3"], start=1):
                cell = table_item(f"{label}  {confidence:.1%}")
                if column == 1:
                    font = cell.font()
                    font.setBold(True)
                    cell.setFont(font)
                self.table.setItem(row, column, cell)
        self.table.setVisible(bool(rows))
        text = self.tr("{0} images predicted with {1}").format(len(rows), Path(result["model"]).name)
        if result["problems"]:
            text += self.tr("; {0} could not be read: {1}").format(
                len(result["problems"]), ", ".join(Path(p).name for p, _ in result["problems"][:3]))
        self.status.setText(text)
        self.status.setAlignment(Qt.AlignmentFlag.AlignLeft)

    def _on_error(self, failure: TaskFailure) -> None:
        self.error = failure.message
        self.status.setText(self.tr("Prediction failed: {0}").format(failure.message))
