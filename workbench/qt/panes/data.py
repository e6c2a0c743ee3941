"""Data step: choose the image folder or CSV manifest, see the classes and their balance, set the split."""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workbench.qt import dialogs
from workbench.qt.panes.base import Pane, group, hint
from workbench.qt.plot_theme import ThemedPlotWidget
from workbench.qt.widgets.curve_plot import PALETTE, cache_static_parts, configure_pyqtgraph
from workbench.qt.widgets.forms import ConfigForm, FieldSpec
from workbench.qt.widgets.step_list import StepState, StepStatus
from workbench.qt.widgets.tables import read_only_table, set_row, table_item

LAYOUT_NAMES = {
    "class_folders": "one folder per class",
    "csv": "CSV manifest",
    "presplit": "pre-split folders (train / val / test)",
}


class ClassBalanceChart(ThemedPlotWidget):
    """Horizontal bar chart of images per class (pyqtgraph BarGraphItem); class names stay readable."""

    def __init__(self, parent: QWidget | None = None) -> None:
        configure_pyqtgraph()
        super().__init__(parent=parent, enableMenu=False)  # no context menus: faster to build
        self.setMinimumHeight(220)
        self.setMaximumHeight(340)
        item = self.getPlotItem()
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.setLabel("bottom", "images")
        item.showGrid(x=True, alpha=0.15)
        item.invertY(True)
        cache_static_parts(item)
        self.bars: pg.BarGraphItem | None = None

    def set_counts(self, counts: dict[str, int]) -> None:
        item = self.getPlotItem()
        if self.bars is not None:
            item.removeItem(self.bars)
        names = list(counts)
        widths = [counts[n] for n in names]
        self.bars = pg.BarGraphItem(x0=0, y=list(range(len(names))), width=widths, height=0.65,
                                    brush=pg.mkBrush(PALETTE["blue"]), pen=pg.mkPen(None))
        item.addItem(self.bars)
        step = max(1, len(names) // 25)
        item.getAxis("left").setTicks([[(i, n) for i, n in enumerate(names) if i % step == 0]])
        item.setYRange(-0.6, len(names) - 0.4, padding=0)
        item.setXRange(0, max(widths or [1]) * 1.05, padding=0)


class DataPane(Pane):
    key = "data"
    title = "Data"
    subtitle = "Choose your images. Workbench finds the classes, checks every file, and splits the data."

    def __init__(self, context, parent=None) -> None:
        super().__init__(context, parent)
        self.dataset = context.dataset
        self._build_source()
        self._build_classes()
        self._build_split()
        self._build_skipped()
        self.body_layout.addStretch(1)
        self.dataset.changed.connect(self._refresh)
        self.dataset.progress.connect(self._on_progress)
        self.project.changed.connect(self._on_project_changed)
        self._refresh()

    # --- building ---------------------------------------------------------------------------------

    def _build_source(self) -> None:
        self.source_edit = QLineEdit()
        self.source_edit.setObjectName("sourceEdit")
        self.source_edit.setToolTip(self.tr("The dataset: a folder with one sub-folder of images per class, a CSV list, or "
                                            "a folder already split into train/val/test. Type a path or use Choose."))
        self.source_edit.setPlaceholderText(self.tr("Folder of images, or a CSV manifest — or drop a folder here"))
        self.source_edit.editingFinished.connect(lambda: self.set_source(self.source_edit.text().strip()))
        folder = QPushButton(self.tr("Choose folder…"))
        folder.setObjectName("primary")
        folder.clicked.connect(self._choose_folder)
        csv = QPushButton(self.tr("Choose CSV…"))
        csv.clicked.connect(self._choose_csv)
        self.rescan_button = QPushButton(self.tr("Rescan"))
        self.rescan_button.setToolTip(self.tr("Look at the files again (after adding, removing or fixing images)"))
        self.rescan_button.clicked.connect(self.dataset.rescan)
        row = QHBoxLayout()
        row.addWidget(self.source_edit, 1)
        row.addWidget(folder)
        row.addWidget(csv)
        row.addWidget(self.rescan_button)
        self.layout_form = ConfigForm(self.project, "data", ["layout"])
        self.summary = QLabel()
        self.summary.setObjectName("summary")
        self.summary.setWordWrap(True)
        self.scan_progress = QProgressBar()
        self.scan_progress.setMaximumHeight(8)
        self.scan_progress.setTextVisible(False)
        self.scan_progress.hide()
        self.body_layout.addWidget(group(self.tr("Dataset"), row, self.layout_form, self.summary, self.scan_progress))

    def _build_classes(self) -> None:
        self.class_table = read_only_table([self.tr("Class"), self.tr("Images"), self.tr("Share"),
                                            self.tr("Train"), self.tr("Validation"), self.tr("Test")])
        self.class_table.setMinimumHeight(200)
        self.class_table.setMaximumHeight(340)
        self.chart = ClassBalanceChart()
        row = QHBoxLayout()
        row.setSpacing(14)
        row.addWidget(self.class_table, 1)
        row.addWidget(self.chart, 1)
        self.balance_note = hint("")
        self.classes_box = group(self.tr("Classes"), row, self.balance_note)
        self.body_layout.addWidget(self.classes_box)

    def _build_split(self) -> None:
        fields = [
            FieldSpec("val_fraction", percent=True, enabled_when=lambda c: c.data.k_folds < 2),
            FieldSpec("test_fraction", percent=True),
            "stratified",
            "k_folds",
            FieldSpec("fold", enabled_when=lambda c: c.data.k_folds >= 2),
            "seed",
        ]
        self.split_form = ConfigForm(self.project, "data", fields)
        self.split_summary = QLabel()
        self.split_summary.setObjectName("summary")
        self.split_summary.setWordWrap(True)
        self.layout_note = hint("")
        column = QVBoxLayout()
        column.addWidget(self.split_summary)
        column.addWidget(self.layout_note)
        column.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.split_form, 1)
        row.addLayout(column, 1)
        self.body_layout.addWidget(group(self.tr("Split into training, validation and test sets"), row))

    def _build_skipped(self) -> None:
        self.skipped_table = read_only_table([self.tr("File"), self.tr("Why it was skipped")])
        self.skipped_table.setMinimumHeight(120)
        header = self.skipped_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.warnings_label = hint("")
        self.skipped_box = group(self.tr("Skipped files"), self.warnings_label, self.skipped_table)
        self.body_layout.addWidget(self.skipped_box)

    # --- actions ----------------------------------------------------------------------------------

    def set_source(self, path: str) -> None:
        if path != self.project.config.data.source:
            message = self.project.update("data.source", path)
            if message:
                self.show_notice(message)

    def _choose_folder(self) -> None:
        path = dialogs.choose_folder(self, self.tr("Choose the dataset folder"), self.project.config.data.source)
        if path:
            self.set_source(path)

    def _choose_csv(self) -> None:
        path = dialogs.choose_csv(self, self.tr("Choose a CSV manifest"), self.project.config.data.source)
        if path:
            self.set_source(path)

    def _on_project_changed(self, key: str) -> None:
        if key in ("", "data.source"):
            self.source_edit.setText(self.project.config.data.source)

    def _on_progress(self, done: int, total: int, message: str) -> None:
        self.scan_progress.setRange(0, max(total, 1))
        self.scan_progress.setValue(done)

    # --- showing the scan -------------------------------------------------------------------------

    def _refresh(self) -> None:
        state = self.dataset
        source = self.project.config.data.source
        self.source_edit.setText(source)
        self.scan_progress.setVisible(state.scanning)
        self.rescan_button.setEnabled(bool(source) and not state.scanning)
        if state.scanning:
            self.scan_progress.setRange(0, 0)
        overview = state.overview
        if not source:
            self.show_notice(self.tr("Choose a folder with one sub-folder per class (or a CSV manifest with path and "
                                     "label columns) to begin. You can also drop a folder onto the window."), "info")
            self.summary.setText("")
        elif state.error:
            self.show_notice(self.tr("This dataset cannot be used yet: {0}").format(
                state.error.replace("see the skipped list", "the skipped list is below")))
            self.summary.setText("")
        elif state.scanning:
            self.clear_notice()
            self.summary.setText(self.tr("Scanning {0} …").format(source))
        else:
            self.clear_notice()
        self._show_overview(overview if not state.scanning else None)
        if state.error and state.error_skipped:
            self._show_skipped(state.error_skipped, ())
        self.status_changed.emit()

    def _show_overview(self, overview) -> None:
        has = overview is not None
        self.classes_box.setVisible(has)
        self.skipped_box.setVisible(has and bool(overview.scan.skipped or overview.scan.warnings))
        if not has:
            self.split_summary.setText("")
            self.layout_note.setText("")
            return
        scan = overview.scan
        counts = scan.counts()
        total = sum(counts.values())
        layout = LAYOUT_NAMES.get(scan.layout, scan.layout)
        skipped = len(scan.skipped)
        self.summary.setText(self.tr("Detected layout: <b>{0}</b> · {1} classes · {2} images{3}").format(
            layout, len(scan.classes), f"{total:,}",
            self.tr(" · {0} skipped").format(skipped) if skipped else ""))
        per_split = overview.split_counts()
        self.class_table.setRowCount(len(scan.classes))
        for row, name in enumerate(scan.classes):
            n = counts[name]
            values = [name, f"{n:,}", f"{100 * n / max(total, 1):.1f} %",
                      per_split[name]["train"], per_split[name]["val"], per_split[name]["test"]]
            set_row(self.class_table, row, values)
        self.chart.set_counts(counts)
        smallest, largest = min(counts.values()), max(counts.values())
        if smallest and largest / smallest >= 3:
            self.balance_note.setText(self.tr(
                "The classes are imbalanced ({0}× between the largest and smallest). Consider class weighting in "
                "the Strategy step, and judge the model by balanced accuracy.").format(f"{largest / smallest:.1f}"))
        else:
            self.balance_note.setText(self.tr("The classes are reasonably balanced."))
        totals = overview.split_totals()
        self.split_summary.setText(self.tr(
            "<b>{0}</b> training · <b>{1}</b> validation · <b>{2}</b> test images").format(
                f"{totals['train']:,}", f"{totals['val']:,}", f"{totals['test']:,}"))
        presplit = sorted({s.split for s in scan.samples if s.split})
        if presplit:
            missing = [s for s in ("val", "test") if s not in presplit]
            note = self.tr("The dataset comes with its own {0} split(s), which are kept as they are.").format(
                " / ".join(presplit))
            if missing:
                note += " " + self.tr("The missing {0} set is carved from the training images with the shares on "
                                      "the left.").format(" and ".join(missing))
            self.layout_note.setText(note)
        else:
            self.layout_note.setText(self.tr(
                "Every image is assigned to exactly one split, reproducibly from the seed. The test set stays "
                "locked until you evaluate."))
        self._show_skipped(scan.skipped, scan.warnings)

    def _show_skipped(self, skipped, warnings) -> None:
        """The files that were found but not used; also after a failed scan, whose message points here."""
        self.skipped_table.setRowCount(len(skipped))
        for row, skipped_file in enumerate(skipped):
            self.skipped_table.setItem(row, 0, table_item(Path(skipped_file.path).name))
            self.skipped_table.item(row, 0).setToolTip(skipped_file.path)
            self.skipped_table.setItem(row, 1, table_item(skipped_file.reason))
        self.warnings_label.setText("\n".join(warnings))
        self.warnings_label.setVisible(bool(warnings))
        self.skipped_box.setVisible(bool(skipped or warnings))

    def status(self) -> StepStatus:
        state = self.dataset
        if not self.project.config.data.source:
            return StepStatus(StepState.NOT_STARTED, self.tr("Choose a dataset"))
        if state.scanning:
            return StepStatus(StepState.NOT_STARTED, self.tr("Scanning…"))
        if state.error:
            return StepStatus(StepState.ATTENTION, self.tr("Dataset problem"))
        scan = state.scan
        if scan is None:
            return StepStatus(StepState.NOT_STARTED)
        if scan.skipped:
            return StepStatus(StepState.READY, self.tr("{0} classes · {1} skipped").format(
                len(scan.classes), len(scan.skipped)))
        return StepStatus(StepState.READY, self.tr("{0} classes · {1} images").format(
            len(scan.classes), f"{len(scan.samples):,}"))
