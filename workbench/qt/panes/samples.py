"""Samples step: real images of each class, as stored and as the network will see them, plus augmentation."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QSlider, QSpinBox, QVBoxLayout, QWidget

from workbench.core.catalog.augmentations import AUGMENTATIONS
from workbench.qt import jobs
from workbench.qt.panes.base import Pane, group, hint
from workbench.qt.project_model import key_affects
from workbench.qt.widgets.forms import ConfigForm, FieldSpec, bounds, section_model
from workbench.qt.widgets.image_grid import ImageGrid, ImageTile, PairTile
from workbench.qt.widgets.step_list import StepState, StepStatus

SAMPLES_PER_CLASS = 4
MAX_CLASSES = 10
AUGMENTED_VIEWS = 8


class ResolutionControl(QWidget):
    """Slider plus spin box for preprocessing.image_size; the slider commits while it is dragged."""

    def __init__(self, project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._project = project
        info = section_model("preprocessing").model_fields["image_size"]
        low, high, _, _ = bounds(info)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("resolutionSlider")
        self.slider.setRange(int(low or 4), min(int(high or 1024), 512))
        self.slider.setToolTip(info.description)
        self.spin = QSpinBox()
        self.spin.setRange(int(low or 4), int(high or 1024))
        self.spin.setSuffix(" px")
        self.spin.setKeyboardTracking(False)
        self.spin.setToolTip(info.description)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        label = QLabel(self.tr("Network input size"))
        label.setToolTip(info.description)
        layout.addWidget(label)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(120)
        self._timer.timeout.connect(lambda: self._commit(self.slider.value()))
        self.slider.valueChanged.connect(self._on_slider)
        self.spin.valueChanged.connect(self._commit)
        project.changed.connect(self._on_project_changed)
        self._on_project_changed("")

    def _on_slider(self, value: int) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(value)
        self.spin.blockSignals(False)
        self._timer.start()

    def _commit(self, value: int) -> None:
        self._project.update("preprocessing.image_size", int(value))

    def _on_project_changed(self, key: str) -> None:
        if key_affects(key, "preprocessing.image_size"):
            value = self._project.config.preprocessing.image_size
            for widget in (self.slider, self.spin):
                widget.blockSignals(True)
                widget.setValue(value)
                widget.blockSignals(False)


def augmentation_fields() -> list[FieldSpec]:
    """The augmentation form, row by row from the augmentation registry (in pipeline order)."""
    settable = section_model("preprocessing.augmentation").model_fields
    return [FieldSpec(info.name, label=info.label, tooltip=info.description)
            for info in sorted(AUGMENTATIONS.values(), key=lambda a: a.order) if info.name in settable]


class SamplesPane(Pane):
    key = "samples"
    title = "Samples"
    subtitle = "Look at real images of every class, as stored and as the network will see them after preprocessing."

    def __init__(self, context, parent=None) -> None:
        super().__init__(context, parent)
        self.dataset = context.dataset
        self.tasks = context.tasks
        self._stale_previews = True
        self._stale_augment = True
        self._aug_index = 0
        self._aug_seed = 0
        self.previews: list[jobs.SamplePreview] = []
        self.augmented: list = []
        self._build()
        self.dataset.changed.connect(self._on_data_changed)
        self.dataset.stats_changed.connect(self._on_stats_changed)
        self.project.changed.connect(self._on_project_changed)
        self._on_data_changed()

    # --- building ---------------------------------------------------------------------------------

    def _build(self) -> None:
        self.resolution = ResolutionControl(self.project)
        self.preprocess_form = ConfigForm(self.project, "preprocessing",
                                          ["resize_mode", "channels", "normalization", "cache"])
        self.stats_label = QLabel()
        self.stats_label.setObjectName("summary")
        self.stats_label.setWordWrap(True)
        self.stats_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        stats_column = QVBoxLayout()
        stats_column.addWidget(QLabel(f"<b>{self.tr('Normalisation statistics (training split)')}</b>"))
        stats_column.addWidget(self.stats_label)
        stats_column.addStretch(1)
        row = QHBoxLayout()
        row.setSpacing(24)
        row.addWidget(self.preprocess_form, 1)
        row.addLayout(stats_column, 1)
        self.body_layout.addWidget(group(self.tr("Preprocessing"), self.resolution, row))

        fields = augmentation_fields()
        self.aug_form = ConfigForm(self.project, "preprocessing.augmentation", fields)
        self.aug_strip = QGridLayout()
        self.aug_strip.setSpacing(6)
        strip_host = QWidget()
        strip_host.setLayout(self.aug_strip)
        self.aug_strip.setContentsMargins(0, 0, 0, 0)
        other = QPushButton(self.tr("Another image"))
        other.clicked.connect(self._next_augmentation_image)
        redraw = QPushButton(self.tr("Draw again"))
        redraw.clicked.connect(self._redraw_augmentation)
        buttons = QHBoxLayout()
        buttons.addWidget(other)
        buttons.addWidget(redraw)
        buttons.addStretch(1)
        self.aug_caption = hint("")
        preview_column = QVBoxLayout()
        preview_column.addWidget(self.aug_caption)
        preview_column.addWidget(strip_host)
        preview_column.addLayout(buttons)
        preview_column.addStretch(1)
        aug_row = QHBoxLayout()
        aug_row.setSpacing(24)
        aug_row.addWidget(self.aug_form, 0)
        aug_row.addLayout(preview_column, 1)
        self.aug_box = group(self.tr("Augmentation (training only)"), aug_row)
        self.body_layout.addWidget(self.aug_box)

        self.grid = ImageGrid()
        self.grid_note = hint("")
        self.samples_box = group(self.tr("Original and network view"), self.grid_note, self.grid)
        self.body_layout.addWidget(self.samples_box)
        self.body_layout.addStretch(1)

    # --- reacting ---------------------------------------------------------------------------------

    def _on_data_changed(self) -> None:
        ok = self.dataset.scan is not None
        for box in (self.samples_box, self.aug_box):
            box.setEnabled(ok)
        if not ok:
            self.show_notice(self.tr("This step needs a dataset: choose a folder of images in the Data step first."),
                             target="data")
            self.grid.clear()
            self._clear_strip()
            self.previews, self.augmented = [], []
        else:
            self.clear_notice()
        self._show_stats()
        self._invalidate()
        self.status_changed.emit()

    def _on_stats_changed(self) -> None:
        self._show_stats()
        if self.project.config.preprocessing.normalization in ("zscore", "minmax"):
            self._invalidate(augment=False)
        self.status_changed.emit()

    def _on_project_changed(self, key: str) -> None:
        if key and key_affects(key, "preprocessing"):
            self._invalidate(previews=not key.startswith("preprocessing.augmentation"))

    def _invalidate(self, previews: bool = True, augment: bool = True) -> None:
        self._stale_previews = self._stale_previews or previews
        self._stale_augment = self._stale_augment or augment
        if self.isVisible():
            self._update_previews()

    def shown(self) -> None:
        self._update_previews()

    def _update_previews(self) -> None:
        overview = self.dataset.overview
        if overview is None:
            return
        cfg = self.project.config.preprocessing
        if self._stale_previews:
            self._stale_previews = False
            items = self._pick_samples(overview)
            self.tasks.submit("sample-previews", jobs.sample_previews, items, cfg, self.dataset.stats,
                              label=self.tr("Rendering previews"), on_result=self._show_previews)
        if self._stale_augment:
            self._stale_augment = False
            self._request_augmentation()

    def _pick_samples(self, overview: jobs.DatasetOverview) -> list[tuple[str, str]]:
        """The first few training images of each class (stable, so previews do not jump around)."""
        chosen: dict[str, list[str]] = {c: [] for c in overview.scan.classes[:MAX_CLASSES]}
        for sample, split in zip(overview.scan.samples, overview.splits, strict=True):
            bucket = chosen.get(sample.label)
            if bucket is not None and len(bucket) < SAMPLES_PER_CLASS and split == "train":
                bucket.append(sample.path)
        return [(label, path) for label, paths in chosen.items() for path in paths]

    def _show_previews(self, previews: list[jobs.SamplePreview]) -> None:
        self.previews = previews
        self.grid.clear()
        by_class: dict[str, list[jobs.SamplePreview]] = {}
        for preview in previews:
            by_class.setdefault(preview.label, []).append(preview)
        for label, items in by_class.items():
            tiles = []
            for item in items:
                if item.error:
                    tile = ImageTile(box=88)
                    tile.set_message(item.error)
                    tiles.append(tile)
                else:
                    tiles.append(PairTile(item.original, item.network))
            self.grid.add_row(label, tiles)
        classes = self.dataset.class_names
        cfg = self.project.config.preprocessing
        note = self.tr("Left: the file as stored. Right: what the network receives at {0}×{0} pixels ({1}, {2} "
                       "normalisation), shown with its own contrast stretched.").format(
                           cfg.image_size, cfg.resize_mode.replace("_", " "), cfg.normalization)
        if len(classes) > MAX_CLASSES:
            note += " " + self.tr("Showing the first {0} of {1} classes.").format(MAX_CLASSES, len(classes))
        self.grid_note.setText(note)
        self.status_changed.emit()

    # --- augmentation preview ---------------------------------------------------------------------

    def _augmentation_path(self) -> str:
        samples = self.dataset.scan.samples if self.dataset.scan is not None else []
        if not samples:
            return ""
        stride = max(1, len(samples) // 7)
        return samples[(self._aug_index * stride) % len(samples)].path

    def _request_augmentation(self) -> None:
        path = self._augmentation_path()
        if not path:
            return
        cfg = self.project.config.preprocessing
        self.tasks.submit("augmentation-preview", jobs.augmentation_views, path, cfg, AUGMENTED_VIEWS, self._aug_seed,
                          label=self.tr("Drawing augmentations"), on_result=self._show_augmentation)

    def _next_augmentation_image(self) -> None:
        self._aug_index += 1
        self._request_augmentation()

    def _redraw_augmentation(self) -> None:
        self._aug_seed += 1
        self._request_augmentation()

    def _clear_strip(self) -> None:
        while self.aug_strip.count():
            item = self.aug_strip.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    def _show_augmentation(self, views: list) -> None:
        self.augmented = views
        self._clear_strip()
        columns = 4
        for i, view in enumerate(views):
            self.aug_strip.addWidget(ImageTile(view, f"#{i + 1}", box=84), i // columns, i % columns)
        self.aug_strip.setColumnStretch(columns, 1)
        aug = self.project.config.preprocessing.augmentation
        if aug.enabled:
            self.aug_caption.setText(self.tr("{0} random versions of one training image, drawn as the training loop "
                                             "would draw them.").format(len(views)))
        else:
            self.aug_caption.setText(self.tr("Augmentation is off: every epoch sees the images unchanged. Turn on "
                                             "mirroring, rotation or a random crop on the left to see its effect."))

    # --- statistics -------------------------------------------------------------------------------

    def _show_stats(self) -> None:
        state = self.dataset
        mode = self.project.config.preprocessing.normalization
        if state.scan is None:
            text = self.tr("Available once a dataset is loaded.")
        elif state.stats_running:
            text = self.tr("Computing from the training images…")
        elif state.stats_error:
            text = self.tr("Could not compute: {0}").format(state.stats_error)
        elif state.stats is None:
            text = self.tr("Not computed yet.")
        else:
            stats = state.stats
            names = ["grey"] if len(stats.mean) == 1 else ["red", "green", "blue"][: len(stats.mean)]
            means = ", ".join(f"{n} {m:.3f}" for n, m in zip(names, stats.mean, strict=False))
            stds = ", ".join(f"{n} {s:.3f}" for n, s in zip(names, stats.std, strict=False))
            text = self.tr("Mean: {0}<br>Std: {1}<br>Range: {2:.3f} – {3:.3f} (on a 0–1 scale; stored values "
                           "÷ {4:g})<br>Applied: <b>{5}</b>").format(means, stds, stats.minimum, stats.maximum,
                                                                    stats.value_scale, mode)
        self.stats_label.setText(text)

    def status(self) -> StepStatus:
        if self.dataset.scan is None:
            return StepStatus(StepState.NOT_STARTED, self.tr("Needs a dataset"))
        if self.dataset.stats_error:
            return StepStatus(StepState.ATTENTION, self.tr("Statistics failed"))
        cfg = self.project.config.preprocessing
        return StepStatus(StepState.READY, f"{cfg.image_size}×{cfg.image_size} · {cfg.normalization}")
