"""The project config: defaults, TOML round trip, and error messages that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from workbench.core.config import SCHEMA_VERSION, ConfigError, ProjectConfig, config_from_dict, load_config, save_config


def _fields(model: type[BaseModel], prefix: str = ""):
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _fields(annotation, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", info


def test_every_field_has_a_default_and_a_description() -> None:
    for name, info in _fields(ProjectConfig):
        assert info.description, f"{name} lacks a description"
        assert not info.is_required(), f"{name} lacks a default"


def test_numeric_fields_have_ranges() -> None:
    for name, info in _fields(ProjectConfig):
        if info.annotation in (int, float) and name not in ("name",):
            bounds = [m for m in info.metadata if any(getattr(m, b, None) is not None for b in ("ge", "gt", "le", "lt"))]
            assert len(bounds) >= 1, f"{name} has no range"


def test_toml_round_trip(tmp_path: Path) -> None:
    config = ProjectConfig(name="roundtrip")
    config.training.lr = 0.01
    config.training.optimizer = "sgd"
    config.preprocessing.augmentation.hflip = True
    config.data.source = "images"
    path = tmp_path / "p.toml"
    save_config(config, path)
    loaded = load_config(path)
    assert loaded.training.lr == 0.01 and loaded.training.optimizer == "sgd"
    assert loaded.preprocessing.augmentation.hflip is True
    # relative dataset paths are resolved against the project file's folder
    assert loaded.data.source == str((tmp_path / "images").resolve())
    assert loaded.runs_dir == str((tmp_path / "runs").resolve())
    assert "schema_version = 1" in path.read_text()


def test_out_of_range_value_names_field_value_and_range() -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict({"training": {"lr": -1}})
    message = str(info.value)
    assert "training.lr" in message and "-1" in message and "> 0.0" in message


def test_wrong_type_and_unknown_key_are_named() -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict({"training": {"batch_size": "big"}, "colour": "red"})
    message = str(info.value)
    assert "training.batch_size" in message and "'big'" in message
    assert "colour" in message and "unknown setting" in message


def test_unknown_registry_choice_lists_the_allowed_ones() -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict({"training": {"optimizer": "adagrad"}})
    assert "adamw" in str(info.value) and "sgd" in str(info.value)


def test_future_schema_version_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "future.toml"
    path.write_text(f"schema_version = {SCHEMA_VERSION + 1}\n")
    with pytest.raises(ConfigError, match="newer Workbench"):
        load_config(path)


def test_unreadable_and_invalid_toml_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[training\nlr = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_timm_names_are_accepted_and_nonsense_refused() -> None:
    assert config_from_dict({"model": {"architecture": "resnet18"}}).model.architecture == "resnet18"
    with pytest.raises(ConfigError, match="unknown architecture"):
        config_from_dict({"model": {"architecture": "no_such_net"}})
