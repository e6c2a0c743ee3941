"""A network seen as blocks from input to output plus a head: what is trainable, and freezing it block by block.

timm models describe their own blocks (`group_matcher`, used by timm for layer-wise learning-rate decay);
the small CNN's blocks are its stages; any other model falls back to its top-level children.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from workbench.core.models.pretrained import head_prefixes, is_head_key

_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


@dataclass(frozen=True)
class Block:
    name: str
    params: tuple[str, ...]  # parameter names, as in model.named_parameters()


def _group_name(index: int, names: list[str]) -> str:
    """A readable name for a group of parameters: their shared module path, or 'stem' for the first group."""
    for depth in (2, 1):
        prefixes = {".".join(n.split(".")[:depth]) for n in names}
        if len(prefixes) == 1 and all(n.count(".") >= depth for n in names):
            return prefixes.pop()
    if index == 0:
        return "stem"
    modules = (n.rsplit(".", 1)[0] for n in names)  # drop the parameter's own name ('weight', 'bias')
    return "+".join(dict.fromkeys(".".join(m.split(".")[:2]) for m in modules))


def _timm_groups(model: nn.Module, head: list[str]) -> list[list[str]] | None:
    matcher = getattr(model, "group_matcher", None)
    if matcher is None:
        return None
    try:
        from timm.models import group_parameters

        groups = group_parameters(model, matcher(coarse=True))
    except Exception:  # a model whose matcher timm cannot apply: fall back to its children
        return None
    out = []
    for key in sorted(groups):
        names = [n for n in groups[key] if not is_head_key(n, head)]
        if names:
            out.append(names)
    return out


def _child_groups(model: nn.Module, head: list[str]) -> list[tuple[str, list[str]]]:
    """Top-level children in order; a Sequential or ModuleList child is split into its own children."""
    groups: list[tuple[str, list[str]]] = []
    for name, child in model.named_children():
        if is_head_key(name, head):
            continue
        parts = list(child.named_children()) if isinstance(child, (nn.Sequential, nn.ModuleList)) else []
        for sub_name, sub in (parts or [("", child)]):
            full = f"{name}.{sub_name}" if sub_name else name
            names = [f"{full}.{n}" for n, _ in sub.named_parameters()]
            if names:
                groups.append((full, names))
    own = [n for n, _ in model.named_parameters(recurse=False) if not is_head_key(n, head)]
    if own:  # parameters held by the model itself (e.g. a class token) belong with the input
        groups.insert(0, ("stem", own))
    return groups


def model_blocks(model: nn.Module) -> list[Block]:
    """The model's blocks from input to output, without the head; each lists its parameter names."""
    head = head_prefixes(model)
    timm_groups = _timm_groups(model, head)
    if timm_groups is not None:
        return [Block(_group_name(i, names), tuple(names)) for i, names in enumerate(timm_groups)]
    return [Block(name, tuple(names)) for name, names in _child_groups(model, head)]


def head_parameters(model: nn.Module) -> list[nn.Parameter]:
    head = head_prefixes(model)
    return [p for n, p in model.named_parameters() if is_head_key(n, head)]


def trainable_layers(model: nn.Module) -> list[tuple[str, bool, int]]:
    """(block name, trainable, parameter count) from input to output, then the head; for the GUI's layer list."""
    params = dict(model.named_parameters())
    rows = []
    for block in model_blocks(model):
        tensors = [params[n] for n in block.params]
        rows.append((block.name, any(p.requires_grad for p in tensors), sum(p.numel() for p in tensors)))
    head = head_parameters(model)
    if head:
        rows.append(("head", any(p.requires_grad for p in head), sum(p.numel() for p in head)))
    return rows


def set_trainable(model: nn.Module, trainable_blocks: set[str]) -> None:
    """Freeze everything except the head and the named blocks."""
    params = dict(model.named_parameters())
    for p in params.values():
        p.requires_grad_(False)
    for p in head_parameters(model):
        p.requires_grad_(True)
    for block in model_blocks(model):
        if block.name in trainable_blocks:
            for n in block.params:
                params[n].requires_grad_(True)
    keep_frozen_norms_in_eval(model)


def _frozen_norms_to_eval(module: nn.Module, _inputs: tuple) -> None:
    if not module.training:
        return
    for m in module.modules():
        if isinstance(m, _NORMS) and m.weight is not None and not m.weight.requires_grad:
            m.eval()


def keep_frozen_norms_in_eval(model: nn.Module) -> None:
    """Batch norms of frozen blocks keep their learned statistics while training (as Keras does for frozen layers):
    a frozen block then computes exactly what it computed before, and small batches cannot disturb it."""
    if not getattr(model, "_wb_frozen_norm_hook", False):
        model.register_forward_pre_hook(_frozen_norms_to_eval)
        model._wb_frozen_norm_hook = True  # type: ignore[assignment]
