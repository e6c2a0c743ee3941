"""Transfer learning and fine-tuning (paper section V).

Transfer: a new head on a pretrained network whose other layers are frozen; only the head trains.
Fine-tuning: the same start, then the top k blocks (at once, or one every n epochs) train too, each at
a smaller rate than the block above it (finetune_lr × lr_decay^depth), while the head keeps the training rate.
"""

from __future__ import annotations

from torch import nn

from workbench.core.events import LogMessage
from workbench.core.models.heads import start_head_small
from workbench.core.strategies.base import StrategyContext
from workbench.core.strategies.blocks import trainable_layers
from workbench.core.strategies.common import build_architecture
from workbench.core.strategies.unfreezing import PlannedStrategy, UnfreezePlan
from workbench.core.strategies.weights import architecture_config, load_pretrained

__all__ = ["FineTuneStrategy", "TransferStrategy", "trainable_layers"]


class TransferStrategy(PlannedStrategy):
    fine_tune = False

    def __init__(self) -> None:
        self.plan: UnfreezePlan | None = None

    def build_model(self, context: StrategyContext) -> nn.Module | None:
        config = architecture_config(context)
        return build_architecture(config, context.data.in_channels, len(context.data.class_names))

    def prepare_model(self, model: nn.Module, context: StrategyContext, resuming: bool) -> None:
        if not resuming:  # on resume the run's own checkpoint supplies the weights
            load_pretrained(model, context)
            start_head_small(model)  # the new head starts at a uniform guess: first loss ln C
        self.plan = UnfreezePlan(model, context.config, self.fine_tune)
        self.plan.apply(model, 1)
        rates = ", ".join(f"{name} {lr:.1e}" for name, lr in self.plan.rates())
        context.emit(LogMessage("info", f"learning rates: {rates}"))



class FineTuneStrategy(TransferStrategy):
    fine_tune = True
