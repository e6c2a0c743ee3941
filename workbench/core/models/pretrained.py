"""Loading foreign weights into a Workbench model: a weights file, timm's local cache, or an earlier run.

Files are read safely: `.safetensors`, or `.pth`/`.pt`/`.bin` through `torch.load(weights_only=True)`,
never arbitrary pickles. Tensors are matched by name first, then by order and shape; the match is
reported (what loaded, how, and what did not) and a run is refused when too little of the backbone loads.
Nothing here touches the network: timm weights are used only when they are already cached.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from workbench.core.models.factory import ModelBuildError

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
_CONTAINER_KEYS = ("state_dict", "model", "model_state_dict", "model_state", "module", "net", "weights")


class WeightsError(ModelBuildError):
    """Weights that cannot be used: missing, unsafe, or matching too little; the message says what to do."""


# --- reading files --------------------------------------------------------------------------------


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a weights file, unwrapped from common containers ({'state_dict': …}, {'model': …})."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            raw: Any = load_file(str(path), device="cpu")
        except Exception as error:
            raise WeightsError(f"weights file {path} is not a valid .safetensors file ({error})") from None
    elif suffix in WEIGHT_SUFFIXES:
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            raise WeightsError(
                f"weights file {path} was refused: it holds Python objects besides tensors ({type(error).__name__}), "
                "and Workbench never unpickles arbitrary code. Re-save it with torch.save(model.state_dict(), path) "
                "or as .safetensors"
            ) from None
    else:
        raise WeightsError(f"{path.name}: Workbench reads weights from {', '.join(WEIGHT_SUFFIXES)} files only")
    state = _unwrap(raw)
    if not state:
        raise WeightsError(f"weights file {path} holds no tensors")
    return state


def _unwrap(raw: Any) -> dict[str, torch.Tensor]:
    """Follow container keys down to a flat name → tensor mapping; drop DDP's 'module.' prefix."""
    for _ in range(3):
        if not isinstance(raw, dict):
            return {}
        tensors = {k: v for k, v in raw.items() if isinstance(v, torch.Tensor)}
        if len(tensors) >= max(1, len(raw) // 2):
            break
        inner = next((raw[k] for k in _CONTAINER_KEYS if isinstance(raw.get(k), dict)), None)
        if inner is None:
            break
        raw = inner
    tensors = {str(k): v for k, v in raw.items() if isinstance(v, torch.Tensor)} if isinstance(raw, dict) else {}
    if tensors and all(k.startswith("module.") for k in tensors):
        tensors = {k.removeprefix("module."): v for k, v in tensors.items()}
    return tensors


# --- timm's cache ---------------------------------------------------------------------------------


def _hub_cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def timm_weights_file(architecture: str) -> Path:
    """The cached file of timm's default pretrained weights for `architecture`, without any download."""
    import timm

    try:
        cfg = timm.models.get_pretrained_cfg(architecture)
    except Exception:
        cfg = None
    if cfg is None:
        raise WeightsError(f"timm has no pretrained weights for {architecture!r}")
    hub_id, url = getattr(cfg, "hf_hub_id", None), getattr(cfg, "url", None)
    if hub_id:
        from huggingface_hub import try_to_load_from_cache

        names = [cfg.hf_hub_filename] if getattr(cfg, "hf_hub_filename", None) else ["model.safetensors",
                                                                                      "pytorch_model.bin"]
        for name in names:
            found = try_to_load_from_cache(hub_id, name)
            if isinstance(found, str) and os.path.isfile(found):
                return Path(found)
    if url:
        candidate = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url.split("?")[0])
        if candidate.is_file():
            return candidate
    raise WeightsError(_missing_timm_message(architecture, hub_id, url))


def _missing_timm_message(architecture: str, hub_id: str | None, url: str | None) -> str:
    where = []
    if hub_id:
        folder = Path(_hub_cache_dir()) / f"models--{hub_id.replace('/', '--')}"
        where.append(f"the Hugging Face cache folder {folder} (copy that folder from a computer where "
                     f"`timm.create_model('{architecture}', pretrained=True)` has run; set HF_HUB_CACHE to use "
                     "another cache)")
        where.append(f"or download https://huggingface.co/{hub_id}/resolve/main/model.safetensors yourself and "
                     "choose weights = 'file' with that file")
    if url:
        where.append(f"or put {os.path.basename(url)} (from {url}) in {Path(torch.hub.get_dir()) / 'checkpoints'}")
    return (f"timm's pretrained weights for {architecture} are not on this computer, and Workbench does not download "
            f"them during training. Put them in {'; '.join(where)}")


def timm_pretrained_state(architecture: str, in_channels: int, num_classes: int, image_size: int) -> tuple[dict, str]:
    """timm's cached weights adapted by timm itself (input channels, position embeddings), and the file used."""
    import timm

    path = timm_weights_file(architecture)
    state = read_state_dict(path)
    from workbench.core.models.builders import timm_kwargs

    kwargs: dict[str, Any] = timm_kwargs(architecture, image_size)  # timm says whether the size is fixed
    model = timm.create_model(architecture, pretrained=True, pretrained_cfg_overlay={"state_dict": state},
                              num_classes=num_classes, in_chans=in_channels, **kwargs)
    return model.state_dict(), str(path)


# --- matching -------------------------------------------------------------------------------------


@dataclass
class MatchReport:
    """What loaded into the model from a source of weights, and what did not."""

    source: str
    matched_by_name: list[str] = field(default_factory=list)
    matched_by_order: list[tuple[str, str]] = field(default_factory=list)  # (model tensor, source tensor)
    adapted: list[str] = field(default_factory=list)  # input convolutions adapted to the channel count
    shape_mismatch: list[tuple[str, list[int], list[int]]] = field(default_factory=list)  # name, model, source
    missing: list[str] = field(default_factory=list)  # backbone tensors left at their initial values
    unused: list[str] = field(default_factory=list)  # source tensors that went nowhere
    head: list[str] = field(default_factory=list)  # the new head's tensors, never loaded
    backbone_total: int = 0

    @property
    def loaded(self) -> int:
        return len(self.matched_by_name) + len(self.matched_by_order)

    @property
    def share(self) -> float:
        return self.loaded / max(1, self.backbone_total)

    def summary(self) -> str:
        text = (f"loaded {self.loaded} of {self.backbone_total} backbone tensors ({self.share:.0%}) from {self.source}: "
                f"{len(self.matched_by_name)} by name, {len(self.matched_by_order)} by order and shape")
        if self.adapted:
            text += f", {len(self.adapted)} input convolution(s) adapted to the channel count"
        text += f"; {len(self.missing)} left at random, {len(self.unused)} source tensors unused; new head: {len(self.head)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "loaded": self.loaded, "share": self.share, "summary": self.summary()}


def head_prefixes(model: nn.Module) -> list[str]:
    """Names of the classifier modules (the 'head' that transfer learning replaces)."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    declared = cfg.get("classifier") if isinstance(cfg, dict) else None
    if declared:
        return [declared] if isinstance(declared, str) else list(declared)
    if hasattr(model, "classifier") and isinstance(model.classifier, nn.Module):
        return ["classifier"]
    if hasattr(model, "get_classifier"):
        head = model.get_classifier()
        return [name for name, module in model.named_modules() if module is head and name]
    return []


def is_head_key(key: str, prefixes: list[str]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def _counted(key: str) -> bool:
    return not key.endswith("num_batches_tracked")  # an integer counter, not a learned tensor


def _adapt_input_conv(target: torch.Tensor, source: torch.Tensor) -> torch.Tensor | None:
    """A conv weight of another input-channel count (1 ↔ 3) adapted as timm does, or None when not applicable."""
    if target.dim() != 4 or source.dim() != 4 or target.shape[0] != source.shape[0] or target.shape[2:] != source.shape[2:]:
        return None
    c_target, c_source = target.shape[1], source.shape[1]
    if c_target == c_source or {c_target, c_source} - {1, 3}:
        return None
    if c_target == 1:  # grey from RGB: sum the colour kernels, as a grey image is the three channels at once
        return source.sum(dim=1, keepdim=True)
    return source.repeat(1, c_target, 1, 1) / c_target


def _strip_prefix(source: dict[str, torch.Tensor], target_keys: set[str]) -> dict[str, torch.Tensor]:
    """Drop or add one wrapper prefix ('model.', 'backbone.', …) when that makes more names match."""
    firsts = Counter(k.split(".", 1)[0] for k in source)
    target_firsts = Counter(k.split(".", 1)[0] for k in target_keys)
    best, best_hits = source, sum(k in target_keys for k in source)
    candidates = [(p, "") for p, n in firsts.items() if n >= len(source) / 2]
    candidates += [("", p) for p, n in target_firsts.items() if n >= len(target_keys) / 2]
    for drop, add in candidates:
        renamed = {}
        for k, v in source.items():
            if drop and not k.startswith(drop + "."):
                continue
            renamed[(add + "." if add else "") + (k[len(drop) + 1:] if drop else k)] = v
        hits = sum(k in target_keys for k in renamed)
        if hits > best_hits:
            best, best_hits = renamed, hits
    return best


def match_state_dict(
    target: dict[str, torch.Tensor], source: dict[str, torch.Tensor], head: list[str], source_name: str = ""
) -> tuple[dict[str, torch.Tensor], MatchReport]:
    """Tensors for `target`'s backbone taken from `source`: by name, then in order while the shapes agree."""
    report = MatchReport(source_name)
    report.head = [k for k in target if is_head_key(k, head)]
    backbone = [k for k in target if not is_head_key(k, head)]
    report.backbone_total = sum(_counted(k) for k in backbone)
    source = _strip_prefix(source, set(backbone))
    loaded: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    for key in backbone:
        if key not in source:
            continue
        want, have = target[key], source[key]
        if want.shape == have.shape:
            loaded[key] = have
        elif (adapted := _adapt_input_conv(want, have)) is not None:
            loaded[key] = adapted
            report.adapted.append(key)
        else:
            report.shape_mismatch.append((key, list(want.shape), list(have.shape)))
            continue
        used.add(key)
        if _counted(key):
            report.matched_by_name.append(key)
    # Fallback for renamed copies of the same network: pair the leftovers of both in order, in step, for as long
    # as their shapes agree. Stopping at the first disagreement keeps a different network from loading shifted.
    leftover_target = [k for k in backbone if k not in loaded and _counted(k)]
    leftover_source = [k for k in source if k not in used and _counted(k)]
    for key, candidate in zip(leftover_target, leftover_source, strict=False):
        have = source[candidate]
        adapted = None if have.shape == target[key].shape else _adapt_input_conv(target[key], have)
        if have.shape != target[key].shape and adapted is None:
            break
        loaded[key] = have if adapted is None else adapted
        if adapted is not None:
            report.adapted.append(key)
        report.matched_by_order.append((key, candidate))
        used.add(candidate)
    report.missing = [k for k in backbone if k not in loaded and _counted(k)]
    report.unused = [k for k in source if k not in used and _counted(k)]
    return loaded, report


def load_matched(model: nn.Module, source: dict[str, torch.Tensor], source_name: str, min_match: float,
                 head: list[str] | None = None) -> MatchReport:
    """Load what matches into `model` (its head excluded); refuse when less than `min_match` of the backbone loads."""
    target = model.state_dict()
    loaded, report = match_state_dict(target, source, head_prefixes(model) if head is None else head, source_name)
    if report.share < min_match:
        examples = ", ".join(report.missing[:4]) + (" …" if len(report.missing) > 4 else "")
        raise WeightsError(
            f"the weights in {source_name} do not fit this architecture: only {report.loaded} of {report.backbone_total} "
            f"backbone tensors ({report.share:.0%}) match by name or by order and shape, below the required "
            f"{min_match:.0%}. Unmatched: {examples}. Choose the architecture these weights were trained with"
        )
    with torch.no_grad():
        for key, value in loaded.items():
            target[key].copy_(value.to(dtype=target[key].dtype))
    return report
