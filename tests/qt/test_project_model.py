"""ProjectModel: one validated field at a time, change signals, dirty state, save and open."""

from __future__ import annotations

from workbench.core.config import load_config
from workbench.qt.project_model import ProjectModel, key_affects


def test_update_validates_one_field_and_reports_errors(qtbot) -> None:
    project = ProjectModel()
    with qtbot.waitSignal(project.changed) as blocker:
        assert project.update("training.lr", 0.01) is None
    assert blocker.args == ["training.lr"]
    assert project.config.training.lr == 0.01
    assert project.dirty

    message = project.update("training.lr", -1.0)
    assert message and "greater than 0" in message
    assert project.config.training.lr == 0.01

    assert "unknown" in project.update("training.no_such_field", 1)
    assert "unknown activation" in project.update("model.small_cnn.activation", "bogus")


def test_unchanged_value_emits_nothing(qtbot) -> None:
    project = ProjectModel()
    with qtbot.assertNotEmitted(project.changed):
        assert project.update("training.epochs", project.config.training.epochs) is None
    assert not project.dirty


def test_save_and_open_round_trip(qtbot, tmp_path) -> None:
    project = ProjectModel()
    project.update_many({"name": "cells", "training.epochs": 3, "preprocessing.augmentation.hflip": True})
    path = project.save(tmp_path / "p.toml")
    assert not project.dirty and project.path == path
    assert load_config(path).training.epochs == 3

    other = ProjectModel()
    with qtbot.waitSignal(other.changed) as blocker:
        other.open(path)
    assert blocker.args == [""]
    assert other.config.name == "cells" and other.config.preprocessing.augmentation.hflip


def test_effective_config_puts_runs_beside_the_project(tmp_path) -> None:
    project = ProjectModel()
    project.save(tmp_path / "p.toml")
    assert project.effective_config().runs_dir == str((tmp_path / "runs").resolve())


def test_key_affects() -> None:
    assert key_affects("", "data")
    assert key_affects("data.source", "data")
    assert key_affects("data", "data.source")
    assert not key_affects("training.lr", "data")
    assert not key_affects("data.sourceX", "data.source")


def test_saving_an_opened_project_keeps_its_relative_paths(qtbot, tmp_path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "p.toml").write_text('name = "rel"\nruns_dir = "../shared-runs"\n[data]\nsource = "images"\n')
    project = ProjectModel()
    project.open(tmp_path / "p.toml")
    assert project.update("training.epochs", 4) is None
    project.save()
    text = (tmp_path / "p.toml").read_text()
    assert 'source = "images"' in text and 'runs_dir = "../shared-runs"' in text and "epochs = 4" in text
    assert project.update("data.source", str(tmp_path / "elsewhere")) is None
    project.save()
    assert f'source = "{tmp_path / "elsewhere"}"' in (tmp_path / "p.toml").read_text(), "a new folder is kept as chosen"
