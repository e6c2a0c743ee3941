"""Which blocks of the network a strategy trains, and at what learning rate: the GUI's "Trainable layers" table.

The layout is worked out exactly as the strategies do it (an `UnfreezePlan` applied to the model at the first
and at the last supervised epoch), on a model built without pretrained weights, so nothing is downloaded or
loaded from disk except, for weights from an earlier run, that run's config (to take its architecture).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

    from workbench.core.config import ProjectConfig

from workbench.core.strategies import STRATEGIES

# The strategy registry's capability flags decide the layout: `freezes_layers` (an UnfreezePlan),
# `fixed_extractor` (nothing trains; a fitted classifier), otherwise every block trains at the training rate.


def run_architecture_config(config: ProjectConfig) -> ProjectConfig:
    """The config with the architecture the run will really build (an earlier run's, for weights="run")."""
    from workbench.core.strategies.common import plain_config

    scfg = config.strategy
    if STRATEGIES[scfg.name].takes_weights and scfg.weights == "run" and scfg.weights_path:
        try:
            from workbench.core.strategies.weights import source_model_config

            config = config.model_copy(update={"model": source_model_config(scfg.weights_path)})
        except Exception:  # an unusable run folder: the run itself will say why; show the chosen architecture
            pass
    return plain_config(config)


def _fine_tunes(config: ProjectConfig) -> bool:
    """Whether the plan unfreezes top blocks: the strategy's own flag, or after pretraining the `downstream` choice."""
    info = STRATEGIES[config.strategy.name]
    if info.pretrains:
        return config.strategy.downstream == "fine_tune"
    return info.fine_tunes


def _rows(model: nn.Module) -> list[tuple[str, bool, int]]:
    from workbench.core.strategies.blocks import trainable_layers

    return trainable_layers(model)


def trainable_layout(config: ProjectConfig, in_channels: int, num_classes: int) -> list[dict[str, Any]]:
    """Per block from input to head: name, params, trainable_start, trainable_end, lr (None when frozen) and note.

    `trainable_start` is the first supervised epoch, `trainable_end` the last (config.training.epochs); the
    pretraining of self-supervised and autoencoder strategies trains every block before both.
    """
    from workbench.core.models.factory import build_model

    model = build_model(run_architecture_config(config), max(1, in_channels), max(1, num_classes))
    info = STRATEGIES[config.strategy.name]
    lr = config.training.lr
    if info.fixed_extractor:
        rows = _rows(model)
        return [{"name": block, "params": count, "trainable_start": False, "trainable_end": False, "lr": None,
                 "note": "fitted classifier" if block == "head" else "fixed"} for block, _, count in rows]
    if not info.freezes_layers:
        return [{"name": block, "params": count, "trainable_start": True, "trainable_end": True, "lr": lr, "note": ""}
                for block, _, count in _rows(model)]

    from workbench.core.strategies.unfreezing import UnfreezePlan

    plan = UnfreezePlan(model, config, _fine_tunes(config))
    rates = dict(plan.rates())
    plan.apply(model, 1)
    start = _rows(model)
    plan.apply(model, max(1, config.training.epochs))
    end = {block: trainable for block, trainable, _ in _rows(model)}
    first_epoch = {b.name: i + 1 for i in range(plan.k)
                   for b in plan.top(i + 1)[:1] if plan.every}  # top(i+1)[0] is the block unfrozen i-th
    out = []
    for block, trainable, count in start:
        note = ""
        if block in first_epoch and not trainable:
            note = f"from epoch {(first_epoch[block]) * plan.every + 1}"
        out.append({"name": block, "params": count, "trainable_start": trainable, "trainable_end": end.get(block, trainable),
                    "lr": rates.get(block), "note": note})
    return out
