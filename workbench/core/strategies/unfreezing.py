"""Which blocks train when: the head alone (transfer), the top k blocks, or one more block every n epochs,
with discriminative learning rates that shrink block by block towards the input."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from torch import nn

from workbench.core.config import ConfigError
from workbench.core.events import LogMessage
from workbench.core.strategies.base import Strategy
from workbench.core.strategies.blocks import Block, head_parameters, model_blocks, set_trainable

if TYPE_CHECKING:
    import torch

    from workbench.core.config import ProjectConfig
    from workbench.core.strategies.base import StrategyContext


class UnfreezePlan:
    """The trainable layout of a model at each epoch; a pure function of the epoch, so resume restores it."""

    def __init__(self, model: nn.Module, config: ProjectConfig, fine_tune: bool) -> None:
        scfg = config.strategy
        self.blocks: list[Block] = model_blocks(model)
        self.head_lr = config.training.lr
        self.finetune_lr, self.decay, self.every = scfg.finetune_lr, scfg.lr_decay, scfg.unfreeze_every
        wanted = len(self.blocks) if scfg.unfreeze_blocks == 0 else scfg.unfreeze_blocks
        self.k = min(wanted, len(self.blocks)) if fine_tune else 0
        self.current: int | None = None
        if self.k and self.every:
            import torch.distributed as dist

            if dist.is_available() and dist.is_initialized():
                raise ConfigError("gradual unfreezing is not available on several GPUs (DDP fixes the trainable "
                                  "weights when it starts): set strategy.unfreeze_every = 0")

    def unfrozen_at(self, epoch: int) -> int:
        """Blocks trainable in `epoch` (1-based): all k at once, or the head alone for `every` epochs, then +1 each time."""
        if not self.every:
            return self.k
        return min(self.k, max(0, epoch - 1) // self.every)

    def top(self, n: int) -> list[Block]:
        return self.blocks[len(self.blocks) - n:] if n else []

    def apply(self, model: nn.Module, epoch: int, context: StrategyContext | None = None) -> None:
        n = self.unfrozen_at(epoch)
        if n == self.current:
            return
        set_trainable(model, {b.name for b in self.top(n)})
        if context is not None and self.current is not None and n > self.current:
            names = ", ".join(b.name for b in self.top(n)[: n - self.current])
            context.emit(LogMessage("info", f"epoch {epoch}: unfroze {names}; {n} of {len(self.blocks)} blocks train"))
        self.current = n

    def param_groups(self, model: nn.Module) -> list[dict[str, Any]]:
        """The head at the training rate, then every block that will ever train at finetune_lr × decay^depth.

        Blocks still frozen are in the optimizer from the start (their gradients stay None, so they do not
        move), which keeps the optimizer's layout fixed across gradual unfreezing and resume.
        """
        params = dict(model.named_parameters())
        groups: list[dict[str, Any]] = [{"params": head_parameters(model), "lr": self.head_lr, "name": "head"}]
        for depth, block in enumerate(reversed(self.top(self.k))):
            groups.append({"params": [params[n] for n in block.params], "lr": self.finetune_lr * self.decay**depth,
                           "name": block.name})
        return [g for g in groups if g["params"]]

    def rates(self) -> list[tuple[str, float]]:
        """(block, learning rate) from the head down, for logs and the GUI."""
        out = [("head", self.head_lr)]
        out += [(b.name, self.finetune_lr * self.decay**d) for d, b in enumerate(reversed(self.top(self.k)))]
        return out


class PlannedStrategy(Strategy):
    """A strategy whose trainable blocks and their rates follow the `UnfreezePlan` its `prepare_model` makes
    (transfer, fine-tuning, and the supervised stage after pretraining)."""

    plan: UnfreezePlan | None = None

    def param_groups(self, model: nn.Module, context: StrategyContext) -> Iterable[Any]:
        assert self.plan is not None, "prepare_model runs first"
        return self.plan.param_groups(model)

    def on_epoch_start(self, epoch: int, model: nn.Module, optimizer: torch.optim.Optimizer,
                       context: StrategyContext) -> None:
        assert self.plan is not None, "prepare_model runs first"
        self.plan.apply(model, epoch, context)
