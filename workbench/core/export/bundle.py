"""The model bundle: one `.wbmodel` zip with everything needed to use a trained model elsewhere.

Members (all safe to open: safetensors, JSON, TOML and Markdown; never a pickle):
- `manifest.json`: format version, architecture, classes, input description and a SHA-256 per member;
- `model.safetensors`: the weights;
- `config.toml`, `classes.json`, `norm_stats.json`, `preprocessing.json`: how to build and feed the model;
- `metrics.json`: validation, test (with its use count) and external results;
- `MODEL_CARD.md`: the model card.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
import zipfile
from pathlib import Path
from typing import Any

import torch

from workbench.core.config import ConfigError, config_from_dict
from workbench.core.data.stats import NormStats
from workbench.core.devices import select_device
from workbench.core.evaluation.loaded_run import LoadedRun, build_inference_model, load_run_folder
from workbench.core.export.bundle_safety import (
    MAX_TEXT_BYTES,
    MAX_TOTAL_BYTES,
    BundleError,
    check_content,
    check_members,
    read_member,
)
from workbench.core.io import atomic_write_bytes

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

FORMAT = "workbench-model"
FORMAT_VERSION = 1
SUFFIX = ".wbmodel"
WEIGHTS = "model.safetensors"
REQUIRED = ("manifest.json", WEIGHTS, "config.toml", "classes.json", "norm_stats.json", "preprocessing.json")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json(data: Any) -> bytes:
    return json.dumps(data, indent=2, default=str).encode("utf-8")


def safe_file_stem(text: str) -> str:
    """`text` as part of a file name: letters, digits, '.', '-' and '_' only, so it can never lead elsewhere."""
    stem = re.sub(r"[^\w.-]+", "_", text).strip("._")
    return stem or "model"


def weights_bytes(model: torch.nn.Module) -> bytes:
    from safetensors.torch import save

    # Separate contiguous copies: safetensors refuses tensors that share memory (tied weights).
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    return save(state, metadata={"format": "pt"})


def bundle_metrics(run: LoadedRun) -> dict[str, Any]:
    """What a bundle records about how good the model is, read from the run folder (never recomputed)."""
    from workbench.core.evaluation import storage
    from workbench.core.evaluation.metrics import headline
    from workbench.core.evaluation.test_lock import summarize_test_uses

    if run.kind == "bundle":
        return dict(run.metrics)
    test = storage.load_metrics(run.run_dir, "test")
    uses = summarize_test_uses(run.run_dir)
    return {
        "best_val_metrics": run.metrics.get("best_val_metrics", {}),
        "checkpoint_epoch": run.checkpoint_epoch,
        "test": headline(test) if test else {},
        "test_confidence_intervals": (test or {}).get("confidence_intervals", {}),
        "test_uses": uses["run_uses"],
        "project_test_uses": uses["project_uses"],
        "external": [{"name": e.get("name"), "source": e.get("source"), "images": e.get("images"), **headline(e)}
                     for e in storage.list_external(run.run_dir)],
    }


def preprocessing_info(run: LoadedRun) -> dict[str, Any]:
    pre = run.config.preprocessing
    return {
        "image_size": pre.image_size, "resize_mode": pre.resize_mode, "channels": run.channels,
        "normalization": run.stats.mode, "value_scale": run.stats.value_scale,
        "input": "float32 tensor N×C×S×S of pixel values divided by value_scale (0–1), then normalised with norm_stats",
    }


def write_bundle(run_or_dir: LoadedRun | str | Path, dest: str | Path | None = None,
                 model_card: str | None = None) -> Path:
    """Write the bundle of a run (best weights) to `dest` (a file, or a folder to put it in)."""
    from workbench.core.config import config_to_toml
    from workbench.core.export.model_card import model_card_markdown

    run = run_or_dir if isinstance(run_or_dir, LoadedRun) else load_run_folder(run_or_dir, device="cpu")
    name = f"{safe_file_stem(run.config.name)}-{safe_file_stem(run.run_dir.stem)}{SUFFIX}"
    if dest is None:
        path = run.run_dir / "exports" / name
    else:
        path = Path(dest)
        path = path / name if path.is_dir() or not path.suffix else path
    metrics = bundle_metrics(run)
    members: dict[str, bytes] = {
        WEIGHTS: weights_bytes(run.model),
        "config.toml": config_to_toml(run.config).encode("utf-8"),
        "classes.json": _json(run.class_names),
        "norm_stats.json": _json(run.stats.to_dict()),
        "preprocessing.json": _json(preprocessing_info(run)),
        "metrics.json": _json(metrics),
        "MODEL_CARD.md": (model_card or model_card_markdown(run, metrics)).encode("utf-8"),
    }
    from workbench import __version__

    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "workbench_version": __version__,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"), "run_id": run.run_dir.stem, "project": run.config.name,
        "architecture": run.config.model.architecture, "class_names": run.class_names, "channels": run.channels,
        "image_size": run.config.preprocessing.image_size, "checkpoint_epoch": run.checkpoint_epoch,
        "files": {k: _sha(v) for k, v in members.items()},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", _json(manifest), compress_type=zipfile.ZIP_DEFLATED)
        for member, data in members.items():
            archive.writestr(member, data, compress_type=zipfile.ZIP_STORED if member == WEIGHTS else zipfile.ZIP_DEFLATED)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def read_bundle(path: str | Path) -> dict[str, bytes]:
    """The checked members of a bundle, in memory. Raises BundleError for anything unsafe or incomplete."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise BundleError(f"model bundle {path} does not exist")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise BundleError(f"{path} is not a Workbench model bundle ({error})") from None
    with archive:
        members = check_members(archive)
        contents: dict[str, bytes] = {}
        for info in members:
            if info.is_dir():
                continue
            data = read_member(archive, info, MAX_TOTAL_BYTES if info.filename == WEIGHTS else MAX_TEXT_BYTES)
            check_content(info.filename, data, WEIGHTS)
            contents[info.filename] = data
    missing = [m for m in REQUIRED if m not in contents]
    if missing:
        raise BundleError(f"{path.name} is not a complete Workbench model bundle: it lacks {', '.join(missing)}")
    manifest = _load_json(contents, "manifest.json", dict)
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{path.name} is not a Workbench model bundle (format {manifest.get('format')!r})")
    version = manifest.get("format_version", 0)
    if not isinstance(version, int):
        raise BundleError(f"{path.name} has a damaged manifest (format_version {version!r} is not a number)")
    if version > FORMAT_VERSION:
        raise BundleError(f"{path.name} was written by a newer Workbench (bundle format {manifest['format_version']}); "
                          "update Workbench to open it")
    files = manifest.get("files") or {}
    if not isinstance(files, dict):
        raise BundleError(f"{path.name} has a damaged manifest (its 'files' entry is not a table of checksums)")
    for member, digest in files.items():
        if member in contents and _sha(contents[member]) != digest:
            raise BundleError(f"bundle member {member} does not match its checksum: the file is damaged or was altered")
    return contents


def _load_json(contents: dict[str, bytes], name: str, kind: type = object) -> Any:
    """A JSON member, which must be of `kind` (dict or list): anything else is a damaged bundle, not a crash."""
    try:
        value = json.loads(contents[name].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise BundleError(f"bundle member {name} is not valid JSON ({reason}); the bundle is damaged") from None
    if kind is not object and not isinstance(value, kind):
        raise BundleError(f"bundle member {name} should hold a JSON {'object' if kind is dict else 'list'}, not "
                          f"{type(value).__name__}; the bundle is damaged")
    return value


def load_bundle(path: str | Path, device: str = "auto") -> LoadedRun:
    """A bundle as a LoadedRun, usable by predict and external validation. Never unpickles anything."""
    from safetensors.torch import load as load_safetensors

    path = Path(path).expanduser().resolve()
    contents = read_bundle(path)
    try:
        raw = tomllib.loads(contents["config.toml"].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise BundleError(f"the bundle's config.toml cannot be read ({error or 'nested too deeply'})") from None
    try:
        config = config_from_dict(raw, source=f"{path.name}:config.toml")
    except ConfigError as error:
        raise BundleError(str(error)) from None
    class_names = [str(c) for c in _load_json(contents, "classes.json", list)]
    try:
        stats = NormStats.from_dict(_load_json(contents, "norm_stats.json", dict))
    except ValueError as error:
        raise BundleError(f"the bundle's norm_stats.json is damaged: {error}") from None
    pre = _load_json(contents, "preprocessing.json", dict)
    channels = pre.get("channels", "rgb")
    if channels not in ("grayscale", "rgb"):
        raise BundleError(f"the bundle's preprocessing.json names channels {channels!r}; expected grayscale or rgb")
    metrics = _load_json(contents, "metrics.json", dict) if "metrics.json" in contents else {}
    try:
        state = load_safetensors(contents[WEIGHTS])
    except Exception as error:  # safetensors raises its own error types
        raise BundleError(f"the bundle's weights cannot be read ({error})") from None
    model = build_inference_model(config, channels, len(class_names))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise BundleError(f"the bundle's weights do not fit its architecture ({str(error)[:300]})") from None
    chosen = torch.device(select_device(device))  # a bundle moves between machines: 'auto' means this machine's best
    manifest = _load_json(contents, "manifest.json", dict)
    return LoadedRun(path, config, class_names, stats, model.to(chosen).eval(), chosen,
                     int(manifest.get("checkpoint_epoch", 0)), channels, "bundle", metrics, None)


def bundle_model_card(path: str | Path) -> str:
    """The model card of a bundle, for display."""
    return read_bundle(path).get("MODEL_CARD.md", b"").decode("utf-8", errors="replace")
