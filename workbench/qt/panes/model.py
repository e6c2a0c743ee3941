"""Model step: pick an architecture from the engine's registry, shape the small CNN, see the model's size.

Scaling follows EfficientNet's three multipliers: width and depth (the small CNN's own options) and input
resolution, shown as a multiple of the architecture's base input side (the Samples step sets the image size).
The parameter count and FLOPs are recomputed (in a worker) whenever any of them changes.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.models.registry import ACTIVATIONS, ARCHITECTURES, architecture_info
from workbench.qt import jobs
from workbench.qt.panes.base import Pane, group, hint
from workbench.qt.project_model import key_affects
from workbench.qt.tasks import TaskFailure
from workbench.qt.widgets.forms import ConfigForm, FieldSpec, registry_choices
from workbench.qt.widgets.step_list import StepState, StepStatus

_NAME_ROLE = Qt.ItemDataRole.UserRole + 1
_SUMMARY_KEYS = ("model", "preprocessing.image_size", "preprocessing.channels")


def small_cnn_fields() -> list[FieldSpec]:
    """The small CNN's options, labelled and explained by its registry entry."""
    specs = []
    for param in ARCHITECTURES["small_cnn"].params:
        choices = registry_choices(ACTIVATIONS) if param.name == "activation" else ()
        specs.append(FieldSpec(param.name, label=param.label, tooltip=param.description, choices=choices))
    return specs


def format_count(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.2f} M"
    if n >= 10_000:
        return f"{n / 1e3:.1f} k"
    return f"{n:,}"


class ResolutionScale(QWidget):
    """The input resolution as the effect of the Samples step's image size: a multiple of the architecture's base
    side. One setting, shown twice under two names, confused people, so here it is read-only, with a way there."""

    change_requested = Signal()

    def __init__(self, project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._project = project
        self.result = QLabel()
        self.result.setObjectName("resolutionMultiplier")
        self.result.setWordWrap(True)
        self.change = QPushButton(self.tr("Change in Samples…"))
        self.change.setToolTip(self.tr("The image size is set in the Samples step, beside the preview of what the "
                                       "network sees"))
        self.change.clicked.connect(self.change_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.result, 1)
        layout.addWidget(self.change)
        project.changed.connect(self._on_project_changed)
        self._on_project_changed("")

    def base(self) -> int:
        return architecture_info(self._project.config.model.architecture).base_resolution

    def multiplier(self) -> float:
        return self._project.config.preprocessing.image_size / self.base()

    def _on_project_changed(self, key: str) -> None:
        if not key_affects(key, "model.architecture", "preprocessing.image_size"):
            return
        size, base = self._project.config.preprocessing.image_size, self.base()
        self.result.setText(self.tr("Resolution: {0} × {0} px input (the Samples step's image size) = {1:.2f} × "
                                    "this architecture's base {2} px").format(size, self.multiplier(), base))
        self.result.setToolTip(self.tr("Compute grows with the square of the resolution multiplier."))


def is_developer_model(name: str) -> bool:
    """timm's tiny models for its own tests (test_resnet, test_vit, …): handy for quick checks, useless for data."""
    return name.startswith("test_")


class ArchitecturePicker(QWidget):
    """Search box over a tree of registry architectures, grouped by family."""

    def __init__(self, project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._project = project
        self.search = QLineEdit()
        self.search.setObjectName("architectureSearch")
        self.search.setToolTip(self.tr("Type part of a name or family (e.g. resnet, efficient) to filter the list"))
        self.search.setPlaceholderText(self.tr("Search architectures (name, family or description)…"))
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.filter)
        self.tree = QTreeWidget()
        self.tree.setObjectName("architectureTree")
        self.tree.setHeaderLabels([self.tr("Architecture"), self.tr("Parameters"), self.tr("Description")])
        self.tree.setRootIsDecorated(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setMinimumHeight(260)
        self.tree.setColumnWidth(0, 230)
        self.tree.setColumnWidth(1, 110)
        families: dict[str, QTreeWidgetItem] = {}
        for info in ARCHITECTURES.values():
            parent_item = families.get(info.family)
            if parent_item is None:
                parent_item = QTreeWidgetItem(self.tree, [info.family])
                parent_item.setFlags(parent_item.flags() & ~Qt.ItemFlag.ItemIsSelectable)
                font = parent_item.font(0)
                font.setBold(True)
                parent_item.setFont(0, font)
                families[info.family] = parent_item
            item = QTreeWidgetItem(parent_item, [info.label, info.size, info.description])
            item.setData(0, _NAME_ROLE, info.name)
            item.setToolTip(0, info.description)
            item.setToolTip(2, info.description)
        self.tree.expandAll()
        self.developer_models = False
        self.filter()
        self.tree.currentItemChanged.connect(self._on_current)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        project.changed.connect(self._on_project_changed)
        self._on_project_changed("")

    def _items(self) -> list[QTreeWidgetItem]:
        found = []
        for i in range(self.tree.topLevelItemCount()):
            family = self.tree.topLevelItem(i)
            found += [family.child(j) for j in range(family.childCount())]
        return found

    def set_developer_models(self, shown: bool) -> None:
        """Show timm's tiny debugging models ("test_*"); hidden by default, they are no real choice."""
        self.developer_models = shown
        self.filter(self.search.text())

    def filter(self, text: str = "") -> None:
        words = text.lower().split()
        current = self._project.config.model.architecture
        for i in range(self.tree.topLevelItemCount()):
            family = self.tree.topLevelItem(i)
            visible_children = 0
            for j in range(family.childCount()):
                item = family.child(j)
                info = ARCHITECTURES[item.data(0, _NAME_ROLE)]
                haystack = f"{info.name} {info.label} {info.family} {info.description}".lower()
                listed = self.developer_models or not is_developer_model(info.name) or info.name == current
                match = listed and all(w in haystack for w in words)
                item.setHidden(not match)
                visible_children += match
            family.setHidden(visible_children == 0)

    def visible_names(self) -> list[str]:
        return [item.data(0, _NAME_ROLE) for item in self._items() if not item.isHidden()
                and not item.parent().isHidden()]

    def select(self, name: str) -> None:
        for item in self._items():
            if item.data(0, _NAME_ROLE) == name:
                self.tree.setCurrentItem(item)
                return

    def _on_current(self, item: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None) -> None:
        name = item.data(0, _NAME_ROLE) if item is not None else None
        if name:
            self._project.update("model.architecture", name)

    def _on_project_changed(self, key: str) -> None:
        if key_affects(key, "model.architecture"):
            name = self._project.config.model.architecture
            self.filter(self.search.text())  # the chosen model is always listed, a developer one included
            current = self.tree.currentItem()
            if current is None or current.data(0, _NAME_ROLE) != name:
                self.tree.blockSignals(True)
                self.select(name)
                self.tree.blockSignals(False)


class ModelPane(Pane):
    key = "model"
    title = "Model"
    subtitle = "Choose the network. A small CNN is the safest start for small datasets; larger ones want more data."

    def __init__(self, context, parent=None) -> None:
        super().__init__(context, parent)
        self.dataset = context.dataset
        self.tasks = context.tasks
        self.summary: Any = None
        self.summary_error = ""
        self._summary_stale = True
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self.refresh_summary)
        self._build()
        self.project.changed.connect(self._on_project_changed)
        self.dataset.changed.connect(self._schedule_summary)
        self.dataset.stats_changed.connect(self._schedule_summary)
        self._on_project_changed("")

    def _build(self) -> None:
        self.picker = ArchitecturePicker(self.project)
        self.description = QLabel()
        self.description.setObjectName("summary")
        self.description.setWordWrap(True)
        self.pretrained_form = ConfigForm(
            self.project, "model",
            [FieldSpec("pretrained", enabled_when=lambda c: architecture_info(c.model.architecture).timm_name
                       is not None)])
        self.body_layout.addWidget(group(self.tr("Architecture"), self.picker, self.description,
                                         self.pretrained_form))

        self.cnn_form = ConfigForm(self.project, "model.small_cnn", small_cnn_fields())
        self.cnn_note = hint("")
        self.cnn_box = group(self.tr("Small CNN builder"), self.cnn_note, self.cnn_form)
        self.resolution = ResolutionScale(self.project)
        self.resolution.change_requested.connect(lambda: self.navigate.emit("samples"))

        self.facts: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(18)
        grid.setVerticalSpacing(8)
        rows = (("params", self.tr("Parameters")), ("trainable", self.tr("Trainable")),
                ("input", self.tr("Input shape")), ("output", self.tr("Output shape")),
                ("features", self.tr("Feature size")), ("flops", self.tr("FLOPs / image")))
        for row, (key, label) in enumerate(rows):
            name = QLabel(label)
            name.setObjectName("factName")
            value = QLabel("–")
            value.setObjectName("factValue")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(name, row, 0)
            grid.addWidget(value, row, 1)
            self.facts[key] = value
        grid.setColumnStretch(1, 1)
        self.summary_note = hint("")
        self.scaling_note = hint(self.tr("Scale the network the EfficientNet way: width and depth in the builder, "
                                         "input resolution by the image size of the Samples step. The size and compute below follow live."))
        self.summary_box = group(self.tr("Scaling and model summary"), self.scaling_note, self.resolution, grid,
                                 self.summary_note)
        row = QHBoxLayout()
        row.setSpacing(14)
        row.addWidget(self.cnn_box, 3)
        row.addWidget(self.summary_box, 2)
        self.body_layout.addLayout(row)
        self.body_layout.addStretch(1)

    # --- reacting ---------------------------------------------------------------------------------

    def _on_project_changed(self, key: str) -> None:
        if key_affects(key, "model"):
            info = architecture_info(self.project.config.model.architecture)
            text = f"<b>{info.label}</b> · {info.family}" + (f" · {info.size} parameters" if info.size else "")
            text += f"<br>{info.description}"
            if info.needs_much_data and not self.project.config.model.pretrained:
                text += "<br><span style='color:#b45309'>" + self.tr(
                    "Transformers need far more data than CNNs when trained from scratch: turn on pretrained weights "
                    "or choose a CNN.") + "</span>"
            self.description.setText(text)
            is_cnn = info.shaped_by_small_cnn_settings
            self.cnn_form.setEnabled(is_cnn)
            self.cnn_note.setText(self.tr("Shape the network: more stages and channels capture more, but need more "
                                          "data.") if is_cnn else
                                  self.tr("These options apply to the small CNN only; {0} has a fixed design.")
                                  .format(info.label))
            self.status_changed.emit()
        if key_affects(key, *_SUMMARY_KEYS):
            self._schedule_summary()

    def _schedule_summary(self) -> None:
        self._timer.start()

    def shown(self) -> None:
        if self._summary_stale:
            self.refresh_summary()

    def refresh_summary(self) -> None:
        """Build the model in a worker and report its size (needs torch, so never on the GUI thread).

        Only while the pane is visible: building a model imports torch, which must not slow start-up.
        """
        self._summary_stale = not self.isVisible()
        if self._summary_stale:
            return
        classes = len(self.dataset.class_names) or 10
        channels = self.dataset.in_channels or 3
        notes = []
        if not self.dataset.class_names:
            notes.append(self.tr("No dataset yet: the output assumes 10 classes."))
        if self.dataset.in_channels is None:
            notes.append(self.tr("Channels not known yet: assuming RGB input."))
        self.summary_note.setText(" ".join(notes))
        self.tasks.submit("model-summary", jobs.model_summary, self.project.effective_config(), channels, classes,
                          label=self.tr("Building model"), on_result=self._on_summary, on_error=self._on_failed,
                          expected=(ValueError, RuntimeError, ImportError))

    def _on_summary(self, summary: Any) -> None:
        self.summary, self.summary_error = summary, ""
        self.facts["params"].setText(f"<b>{format_count(summary.parameter_count)}</b> ({summary.parameter_count:,})")
        self.facts["trainable"].setText(format_count(summary.trainable_count))
        self.facts["input"].setText(" × ".join(str(x) for x in summary.input_shape))
        self.facts["output"].setText(" × ".join(str(x) for x in summary.output_shape) + self.tr(" (class scores)"))
        self.facts["features"].setText(str(summary.feature_dim))
        self.facts["flops"].setText(format_count(summary.flops))
        self.clear_notice()
        self.status_changed.emit()

    def _on_failed(self, failure: TaskFailure) -> None:
        self.summary, self.summary_error = None, failure.message
        for value in self.facts.values():
            value.setText("–")
        self.show_notice(self.tr("This model cannot be built with the current settings: {0}").format(failure.message))
        self.status_changed.emit()

    def status(self) -> StepStatus:
        if self.summary_error:
            return StepStatus(StepState.ATTENTION, self.tr("Cannot build model"))
        info = architecture_info(self.project.config.model.architecture)
        if info.needs_much_data and not self.project.config.model.pretrained:
            return StepStatus(StepState.ATTENTION, self.tr("{0} needs pretraining").format(info.label))
        if self.summary is None:
            return StepStatus(StepState.NOT_STARTED, info.label)
        return StepStatus(StepState.READY, f"{info.label} · {format_count(self.summary.parameter_count)}")
