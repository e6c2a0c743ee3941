"""Forms generated from pydantic field metadata and registry entries.

`ConfigForm(project, "training", fields)` builds one editor per field of a config section:

- the field's `description` becomes the tooltip;
- `ge`/`gt`/`le`/`lt` become the spin box range;
- `Literal[...]` becomes a combo box, and so does a `str` field given registry choices;
- `bool` becomes a check box, `int` a spin box, `float` a spin box (logarithmic steps for rates).

Edits are written through `project.update(key, value)`; a refused value shows its message in red
under the field. The form refreshes itself whenever the project changes.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.core.config import ProjectConfig, field_bounds
from workbench.qt.project_model import ProjectModel, key_affects

# Friendlier labels for terse field names; anything not listed is derived from the name.
FIELD_LABELS = {
    "lr": "Learning rate",
    "k_folds": "Cross-validation folds",
    "val_fraction": "Validation share",
    "test_fraction": "Test share",
    "hflip": "Mirror left-right",
    "vflip": "Mirror top-bottom",
    "crop_scale": "Random crop (smallest area)",
    "noise_std": "Gaussian noise",
    "blur_sigma": "Blur",
    "amp": "Mixed precision (CUDA)",
    "channels_last": "Channels-last layout",
    "tuned_conv_gradients": "Tuned CPU convolution gradients",
    "early_stopping_patience": "Early stopping patience",
    "warmup_epochs": "Warm-up epochs",
    "grad_clip_norm": "Gradient clipping (max norm)",
    "gamma": "Decay factor (gamma)",
    "image_size": "Image size",
    "resize_mode": "Resize",
    "seed": "Random seed",
    "normalization": "Normalisation",
    "conv_type": "Convolution",
    "optimizer": "Optimiser",
    "onnx": "Also export ONNX",
}

# Friendlier labels for Literal values.
VALUE_LABELS = {
    "auto": "Automatic",
    "class_folders": "One folder per class",
    "csv": "CSV manifest",
    "presplit": "Pre-split folders (train/val/test)",
    "zscore": "Z-score (mean 0, std 1)",
    "minmax": "Min-max (0 to 1)",
    "imagenet": "ImageNet statistics",
    "none": "None",
    "center_crop": "Centre crop",
    "rgb": "RGB",
    "cpu": "CPU",
    "cuda": "CUDA (NVIDIA GPU)",
    "mps": "MPS (Apple GPU)",
    "val_loss": "Validation loss",
    "val_accuracy": "Validation accuracy",
    "val_balanced_accuracy": "Validation balanced accuracy",
    "val_macro_f1": "Validation macro F1",
}


def humanize(name: str) -> str:
    return FIELD_LABELS.get(name) or name.replace("_", " ").capitalize()


def value_label(value: Any) -> str:
    text = str(value)
    return VALUE_LABELS.get(text) or text.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Choice:
    """One entry of a combo box: stored value, shown label, and a tooltip (from a registry entry)."""

    value: Any
    label: str
    description: str = ""


@dataclass(frozen=True)
class FieldSpec:
    """How to show one field; everything not given is derived from the pydantic metadata."""

    name: str
    label: str = ""
    tooltip: str = ""
    choices: tuple[Choice, ...] = ()
    percent: bool = False  # show a 0-1 fraction as 0-100 %
    suffix: str = ""
    enabled_when: Callable[[ProjectConfig], bool] | None = None
    visible_when: Callable[[ProjectConfig], bool] | None = None


def registry_choices(registry: dict[str, Any]) -> tuple[Choice, ...]:
    """Combo entries from a registry of frozen dataclasses with name, label and description."""
    return tuple(Choice(e.name, getattr(e, "label", e.name), getattr(e, "description", "")) for e in registry.values())


def section_model(key: str) -> type[BaseModel]:
    """The pydantic class of the config section at dotted `key` ("" = ProjectConfig itself)."""
    model: type[BaseModel] = ProjectConfig
    for part in filter(None, key.split(".")):
        model = model.model_fields[part].annotation  # type: ignore[assignment]
    return model


bounds = field_bounds  # the GUI reads ranges exactly as the config defines them


def _base_type(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


class LogSpinBox(QDoubleSpinBox):
    """A spin box for rates: shows values like 3e-04 and steps by factors of about 2 (1, 2, 5, 10)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)

    def textFromValue(self, value: float) -> str:
        return f"{value:.4g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.replace(",", "."))
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        from PySide6.QtGui import QValidator

        stripped = text.strip().replace(",", ".")
        try:
            value = float(stripped)
        except ValueError:
            partial = stripped == "" or stripped[-1] in "eE.-+"
            return (QValidator.State.Intermediate if partial else QValidator.State.Invalid), text, pos
        if self.minimum() <= value <= self.maximum():
            return QValidator.State.Acceptable, text, pos
        return QValidator.State.Intermediate, text, pos

    def stepBy(self, steps: int) -> None:
        value = self.value()
        for _ in range(abs(steps)):
            exponent = math.floor(math.log10(value)) if value > 0 else -6
            mantissa = value / 10**exponent if value > 0 else 1.0
            ladder = (1.0, 2.0, 5.0, 10.0)
            if steps > 0:
                nxt = next((m for m in ladder if m > mantissa + 1e-9), 10.0)
            else:
                nxt = next((m for m in reversed(ladder) if m < mantissa - 1e-9), 0.5)
            value = nxt * 10**exponent
        self.setValue(min(max(value, self.minimum()), self.maximum()))


class _FieldRow:
    """An editor, its label and its inline error message."""

    def __init__(self, key: str, spec: FieldSpec, info: FieldInfo, annotation: Any) -> None:
        self.key = key
        self.spec = spec
        self.info = info
        self.annotation = annotation
        self.editor: QWidget
        self.label = QLabel(spec.label or humanize(spec.name))
        self.error = QLabel()
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        self.error.hide()
        self.container = QWidget()
        layout = QVBoxLayout(self.container)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)


class ConfigForm(QWidget):
    """Editors for some fields of one config section, kept in step with the ProjectModel."""

    edited = Signal(str)  # key written by this form

    def __init__(self, project: ProjectModel, section: str, fields: Sequence[str | FieldSpec] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._project = project
        self._section = section
        self._model = section_model(section)
        specs = [FieldSpec(f) if isinstance(f, str) else f for f in (fields or list(self._model.model_fields))]
        self._layout = QFormLayout(self)
        self._layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self._layout.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._layout.setHorizontalSpacing(14)
        self._layout.setVerticalSpacing(8)
        self.rows: dict[str, _FieldRow] = {}
        for spec in specs:
            self._add_row(spec)
        project.changed.connect(self._on_project_changed)
        self.refresh()

    # --- building ---------------------------------------------------------------------------------

    def key(self, name: str) -> str:
        return f"{self._section}.{name}" if self._section else name

    def _add_row(self, spec: FieldSpec) -> None:
        info = self._model.model_fields[spec.name]
        annotation = _base_type(info.annotation)
        row = _FieldRow(self.key(spec.name), spec, info, annotation)
        row.editor = self._make_editor(row)
        row.editor.setObjectName(f"field_{spec.name}")
        tooltip = spec.tooltip or info.description or ""
        for widget in (row.label, row.editor):
            widget.setToolTip(tooltip)
        row.container.layout().addWidget(row.editor)
        row.container.layout().addWidget(row.error)
        self._layout.addRow(row.label, row.container)
        self.rows[spec.name] = row

    def _make_editor(self, row: _FieldRow) -> QWidget:
        spec, info, annotation = row.spec, row.info, row.annotation
        if spec.choices or get_origin(annotation) is Literal:
            combo = QComboBox()
            choices = spec.choices or tuple(Choice(v, value_label(v)) for v in get_args(annotation))
            for i, choice in enumerate(choices):
                combo.addItem(choice.label, choice.value)
                if choice.description:
                    combo.setItemData(i, choice.description, Qt.ItemDataRole.ToolTipRole)
            combo.activated.connect(lambda _i, r=row: self._commit(r, r.editor.currentData()))
            return combo
        if annotation is bool:
            box = QCheckBox()
            box.toggled.connect(lambda checked, r=row: self._commit(r, bool(checked)))
            return box
        low, high, low_open, high_open = bounds(info)
        if annotation is int:
            spin = QSpinBox()
            lowest = int(low) + int(low_open) if low is not None else -(2**31)
            highest = min(int(high) - int(high_open), 2**31 - 1) if high is not None else 2**31 - 1
            spin.setRange(lowest, highest)
            spin.setSuffix(spec.suffix)
            self._spin_common(spin)
            spin.valueChanged.connect(lambda v, r=row: self._commit(r, int(v)))
            return spin
        if annotation is float:
            default = info.default if isinstance(info.default, (int, float)) else 1.0
            if spec.percent:
                spin = QDoubleSpinBox()
                spin.setDecimals(1)
                spin.setRange(100 * (low or 0.0), 100 * (high if high is not None else 1.0))
                spin.setSingleStep(5.0)
                spin.setSuffix(" %")
                spin.valueChanged.connect(lambda v, r=row: self._commit(r, round(v / 100.0, 6)))
            elif (low or 0.0) == 0.0 and 0 < default < 0.01:
                spin = LogSpinBox()  # learning rates, weight decay: values span many decades
                spin.setRange(1e-8 if low_open else 0.0, high if high is not None else 1e6)
                spin.valueChanged.connect(lambda v, r=row: self._commit(r, float(v)))
            else:
                spin = QDoubleSpinBox()
                lowest = low if low is not None else -1e9
                highest = high if high is not None else 1e9
                span = highest - lowest
                spin.setDecimals(3 if span <= 2 else (2 if span <= 200 else 1))
                spin.setSingleStep(0.05 if span <= 2 else (1.0 if span <= 200 else 10.0))
                tick = 10 ** -spin.decimals()
                spin.setRange(lowest + (tick if low_open else 0.0), highest - (tick if high_open else 0.0))
                spin.valueChanged.connect(lambda v, r=row: self._commit(r, float(v)))
            spin.setSuffix(spin.suffix() or spec.suffix)
            self._spin_common(spin)
            return spin
        edit = QLineEdit()
        edit.editingFinished.connect(lambda r=row: self._commit(r, r.editor.text()))
        return edit

    @staticmethod
    def _spin_common(spin: QAbstractSpinBox) -> None:
        spin.setKeyboardTracking(False)  # commit on Enter, focus loss or arrows, not on every keystroke
        spin.setAccelerated(True)
        spin.setMinimumWidth(120)

    # --- writing and refreshing -------------------------------------------------------------------

    def _commit(self, row: _FieldRow, value: Any) -> None:
        message = self._project.update(row.key, value)
        self._show_error(row, message or "")
        if not message:
            self.edited.emit(row.key)

    @staticmethod
    def _show_error(row: _FieldRow, message: str) -> None:
        row.error.setText(message)
        row.error.setVisible(bool(message))
        row.editor.setProperty("invalid", bool(message))
        row.editor.style().unpolish(row.editor)
        row.editor.style().polish(row.editor)

    def _on_project_changed(self, key: str) -> None:
        if key_affects(key, self._section) or any(r.spec.enabled_when or r.spec.visible_when
                                                  for r in self.rows.values()):
            self.refresh()

    def refresh(self) -> None:
        config = self._project.config
        for row in self.rows.values():
            value = self._project.get(row.key)
            editor = row.editor
            editor.blockSignals(True)
            try:
                if isinstance(editor, QComboBox):
                    index = editor.findData(value)
                    if index < 0:
                        editor.addItem(value_label(value), value)
                        index = editor.count() - 1
                    editor.setCurrentIndex(index)
                elif isinstance(editor, QCheckBox):
                    editor.setChecked(bool(value))
                elif isinstance(editor, QDoubleSpinBox) and row.spec.percent:
                    editor.setValue(100.0 * float(value))
                elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
                    editor.setValue(value)
                elif isinstance(editor, QLineEdit) and not editor.hasFocus():
                    editor.setText(str(value))
            finally:
                editor.blockSignals(False)
            if row.spec.enabled_when is not None:
                enabled = row.spec.enabled_when(config)
                editor.setEnabled(enabled)
                row.label.setEnabled(enabled)
            if row.spec.visible_when is not None:
                self._layout.setRowVisible(row.container, row.spec.visible_when(config))

    def editor(self, name: str) -> QWidget:
        return self.rows[name].editor

    def error_text(self, name: str) -> str:
        return self.rows[name].error.text()

    def set_value(self, name: str, value: Any) -> str | None:
        """Programmatic edit as if typed by the user (for tests and scripts); returns the error, if any."""
        row = self.rows[name]
        self._commit(row, value)
        return row.error.text() or None
