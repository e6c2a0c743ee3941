"""Forms generated from pydantic metadata and registries."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

from workbench.core.config import TrainingConfig
from workbench.core.training.optim import OPTIMIZERS
from workbench.qt.project_model import ProjectModel
from workbench.qt.widgets.forms import ConfigForm, FieldSpec, LogSpinBox, registry_choices


def test_editor_kinds_ranges_and_tooltips(qtbot) -> None:
    project = ProjectModel()
    form = ConfigForm(project, "training", [FieldSpec("optimizer", choices=registry_choices(OPTIMIZERS)), "lr",
                                            "batch_size", "momentum", "monitor", "class_weighting"])
    qtbot.addWidget(form)
    assert isinstance(form.editor("optimizer"), QComboBox)
    assert form.editor("optimizer").count() == len(OPTIMIZERS)
    assert isinstance(form.editor("lr"), LogSpinBox)
    batch = form.editor("batch_size")
    assert isinstance(batch, QSpinBox) and (batch.minimum(), batch.maximum()) == (1, 4096)
    momentum = form.editor("momentum")
    assert isinstance(momentum, QDoubleSpinBox) and momentum.maximum() < 1.0  # lt=1.0
    monitor = form.editor("monitor")
    assert isinstance(monitor, QComboBox)
    assert [monitor.itemData(i) for i in range(monitor.count())] == ["val_loss", "val_accuracy",
                                                                     "val_balanced_accuracy", "val_macro_f1"]
    assert isinstance(form.editor("class_weighting"), QCheckBox)
    assert form.editor("batch_size").toolTip() == TrainingConfig.model_fields["batch_size"].description


def test_editing_writes_through_the_project_and_refreshes(qtbot) -> None:
    project = ProjectModel()
    form = ConfigForm(project, "training", ["epochs", "lr", "class_weighting"])
    qtbot.addWidget(form)
    form.editor("epochs").setValue(7)
    assert project.config.training.epochs == 7
    form.editor("class_weighting").setChecked(True)
    assert project.config.training.class_weighting
    project.update("training.lr", 0.05)
    assert form.editor("lr").value() == 0.05


def test_invalid_value_is_shown_inline(qtbot) -> None:
    project = ProjectModel()
    form = ConfigForm(project, "", ["name"])
    qtbot.addWidget(form)
    editor = form.editor("name")
    assert isinstance(editor, QLineEdit)
    assert form.set_value("name", "")
    assert "at least 1" in form.error_text("name")
    assert project.config.name == "untitled"
    assert form.set_value("name", "ok") is None
    assert form.error_text("name") == ""


def test_enabled_and_visible_rules_follow_the_config(qtbot) -> None:
    from workbench.qt.panes.strategy import optimisation_fields, schedule_fields

    project = ProjectModel()
    optim = ConfigForm(project, "training", optimisation_fields())
    schedule = ConfigForm(project, "training", schedule_fields())
    qtbot.addWidget(optim)
    qtbot.addWidget(schedule)
    assert not optim.editor("momentum").isEnabled()  # AdamW has no momentum
    project.update("training.optimizer", "sgd")
    assert optim.editor("momentum").isEnabled()
    layout = schedule.layout()
    assert not layout.isRowVisible(schedule.rows["step_size"].container)
    project.update("training.scheduler", "step")
    assert layout.isRowVisible(schedule.rows["step_size"].container)


def test_log_spin_box_steps_by_decades(qtbot) -> None:
    box = LogSpinBox()
    qtbot.addWidget(box)
    box.setRange(1e-6, 1.0)
    box.setValue(1e-3)
    box.stepBy(1)
    assert abs(box.value() - 2e-3) < 1e-12
    box.stepBy(-2)
    assert abs(box.value() - 5e-4) < 1e-12
    assert box.textFromValue(0.0003) == "0.0003"


def test_typing_a_learning_rate_in_scientific_notation(qtbot) -> None:
    from PySide6.QtCore import Qt

    project = ProjectModel()
    form = ConfigForm(project, "training", ["lr"])
    qtbot.addWidget(form)
    form.show()
    editor = form.editor("lr")
    editor.lineEdit().selectAll()
    qtbot.keyClicks(editor.lineEdit(), "3e-4")
    qtbot.keyClick(editor.lineEdit(), Qt.Key.Key_Return)
    assert project.config.training.lr == 3e-4


def test_the_optimisation_form_shows_nesterov_where_the_optimizer_takes_it(qtbot) -> None:
    from workbench.qt.panes.strategy import optimisation_fields

    project = ProjectModel()
    form = ConfigForm(project, "training", optimisation_fields())
    qtbot.addWidget(form)
    nesterov = form.editor("nesterov")
    assert isinstance(nesterov, QCheckBox) and not nesterov.isChecked()  # off by default, as documented
    project.update("training.optimizer", "sgd")
    assert nesterov.isEnabled()
    nesterov.setChecked(True)
    assert project.config.training.nesterov
    project.update("training.momentum", 0.0)
    assert not nesterov.isEnabled(), "Nesterov needs momentum"
    project.update("training.optimizer", "adamw")
    assert not nesterov.isEnabled() and not form.editor("momentum").isEnabled()


def test_the_augmentation_form_is_generated_from_its_registry(qtbot) -> None:
    from workbench.core.catalog.augmentations import AUGMENTATIONS
    from workbench.qt.panes.samples import augmentation_fields

    project = ProjectModel()
    specs = augmentation_fields()
    assert [s.name for s in specs] == [a.name for a in sorted(AUGMENTATIONS.values(), key=lambda a: a.order)]
    form = ConfigForm(project, "preprocessing.augmentation", specs)
    qtbot.addWidget(form)
    for info in AUGMENTATIONS.values():
        assert form.editor(info.name).toolTip() == info.description
    form.editor("hflip").setChecked(True)
    assert project.config.preprocessing.augmentation.hflip and project.config.preprocessing.augmentation.enabled
