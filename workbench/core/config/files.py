"""Project files: reading and writing the TOML form of the settings, validation messages that name the field, the
value and what is allowed, and the one validated way to change settings (`with_updates`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]
from pydantic import BaseModel, ValidationError

from workbench.core.config.schema import SCHEMA_VERSION, ConfigError, ProjectConfig
from workbench.core.io import atomic_write_bytes

# --- validation messages -------------------------------------------------------------------------


def field_bounds(info: Any) -> tuple[float | None, float | None, bool, bool]:
    """(lower, upper, lower_is_exclusive, upper_is_exclusive) from a field's ge/gt/le/lt metadata."""
    low = high = None
    low_open = high_open = False
    for meta in info.metadata:
        if getattr(meta, "ge", None) is not None:
            low = meta.ge
        if getattr(meta, "gt", None) is not None:
            low, low_open = meta.gt, True
        if getattr(meta, "le", None) is not None:
            high = meta.le
        if getattr(meta, "lt", None) is not None:
            high, high_open = meta.lt, True
    return low, high, low_open, high_open


def _field_doc(section: type[BaseModel], path: tuple[str | int, ...]) -> str:
    """The allowed range or choices of the field at `path`, as a short phrase."""
    model: Any = section
    info = None
    for part in path:
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return ""
        info = model.model_fields[part]
        model = info.annotation
    if info is None:
        return ""
    bounds = []
    for meta in info.metadata:
        for name, word in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(meta, name, None) is not None:
                bounds.append(f"{word} {getattr(meta, name)}")
    allowed = f"allowed: {' and '.join(bounds)}" if bounds else ""
    return "; ".join(x for x in (allowed, info.description or "") if x)


def describe_validation_error(error: ValidationError, source: str = "project") -> str:
    """Turn pydantic's error list into lines that name the field, the bad value and what is allowed."""
    lines = [f"{source} has {error.error_count()} invalid setting(s):"]
    for item in error.errors():
        loc = tuple(item["loc"])
        field = ".".join(str(p) for p in loc)
        value = item.get("input")
        if item["type"] == "extra_forbidden":
            lines.append(f"  - {field}: unknown setting (value {value!r}); remove it or check its spelling")
            continue
        doc = _field_doc(ProjectConfig, loc)
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"  - {field} = {value!r}: {message}" + (f" ({doc})" if doc else ""))
    return "\n".join(lines)


def migrate(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring an older file's dictionary up to SCHEMA_VERSION (version 1 is the first; nothing to do yet)."""
    raw = dict(raw)
    raw.setdefault("schema_version", SCHEMA_VERSION)
    return raw


def config_from_dict(raw: dict[str, Any], source: str = "project") -> ProjectConfig:
    try:
        return ProjectConfig.model_validate(migrate(raw))
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, source)) from None


def load_config(path: str | Path) -> ProjectConfig:
    """Read a project TOML file. Relative dataset paths are resolved against the file's folder."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"project file {path} does not exist; check the path") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a project file; give the .toml file inside it") from None
    except OSError as error:
        raise ConfigError(f"project file {path} cannot be read ({error.strerror or error})") from None
    try:
        text = data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(f"project file {path} is not UTF-8 text (byte {error.start} cannot be read); save it "
                          "as UTF-8") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"project file {path} is not valid TOML: {error}") from None
    config = config_from_dict(raw, source=str(path))
    return resolve_paths(config, path.parent)


def resolve_paths(config: ProjectConfig, base: Path) -> ProjectConfig:
    """Make the dataset source and runs folder absolute, relative to `base` (the project file's folder).

    The relative forms are remembered, so that saving the project writes them back relative.
    """
    updates: dict[str, Any] = {}
    relative: dict[str, str] = {}
    source = config.data.source
    if source and not Path(source).expanduser().is_absolute():
        updates["data"] = config.data.model_copy(update={"source": str((base / source).resolve())})
        relative["data.source"] = source
    runs = config.runs_dir or "runs"
    if not Path(runs).expanduser().is_absolute():
        updates["runs_dir"] = str((base / runs).resolve())
        relative["runs_dir"] = config.runs_dir  # "" stays "" (a runs folder beside the project file)
    resolved = config.model_copy(update=updates)
    resolved._relative = {**config._relative, **relative}
    return resolved


def config_to_toml(config: ProjectConfig) -> str:
    return tomli_w.dumps(config.model_dump(mode="json"))


def _get(config: BaseModel, key: str) -> Any:
    value: Any = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


def _relative_form(config: ProjectConfig, base: Path) -> ProjectConfig:
    """The config with each path that was relative in its file made relative again, where it still points to
    the same place from `base` (a Save As into another folder keeps the absolute path instead)."""
    updates: dict[str, Any] = {}
    for key, raw in config._relative.items():
        current = _get(config, key)
        if current and (base / (raw or "runs")).resolve() == Path(current).expanduser().resolve():
            updates[key] = raw
    return with_updates(config, updates) if updates else config


# --- changing settings ---------------------------------------------------------------------------


def with_updates(config: ProjectConfig, updates: dict[str, Any], source: str = "the changed settings"
                 ) -> ProjectConfig:
    """A copy of `config` with dotted keys set (`{"training.epochs": 20}`), validated as a whole.

    The one way to change a config outside a form: out-of-range values (`--epochs -3`) and unknown keys raise
    ConfigError with the field, the value and what is allowed, exactly as a project file would.
    """
    raw = config.model_dump(mode="python")
    for key, value in updates.items():
        parts = key.split(".")
        owner = raw
        for part in parts[:-1]:
            if not isinstance(owner.get(part), dict):
                raise ConfigError(f"{source}: {key} is not a setting; check its spelling (such as training.epochs)")
            owner = owner[part]
        if parts[-1] not in owner:
            raise ConfigError(f"{source}: {key} is not a setting; check its spelling (such as training.epochs)")
        owner[parts[-1]] = value
    try:
        updated = ProjectConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, source)) from None
    updated._relative = dict(config._relative)
    return updated


def save_config(config: ProjectConfig, path: str | Path) -> None:
    """Write the project atomically; paths that were relative in the file it came from stay relative."""
    path = Path(path)
    atomic_write_bytes(path, config_to_toml(_relative_form(config, path.parent.resolve())).encode("utf-8"))
