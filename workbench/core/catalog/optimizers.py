"""Registry of optimizers (after timm's `OptimInfo`): each entry carries its class and its capabilities.

The class is named as "module:Class" and imported only when an optimizer is built, so the config and the
GUI list optimizers without torch. Capabilities say which settings apply (momentum, Nesterov) and how the
optimizer behaves (adaptive rates, state kept per weight), so no code needs to test an optimizer's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.core.catalog import check_reference, resolve


@dataclass(frozen=True)
class OptimizerInfo:
    name: str
    label: str
    description: str
    default_lr: float
    opt_class: str  # "module:Class", a torch.optim.Optimizer subclass
    has_momentum: bool = False  # takes `momentum` (training.momentum applies)
    has_nesterov: bool = False  # takes `nesterov` (training.nesterov applies)
    has_betas: bool = False  # keeps running moment estimates with betas (Adam family)
    adaptive: bool = False  # per-weight step sizes: diverges at rates (≥ 0.01) that SGD tolerates
    state_per_weight: int = 0  # optimizer-state tensors per weight tensor, for the checkpoint size

    @property
    def uses_momentum(self) -> bool:
        return self.has_momentum

    def load_class(self) -> type:
        return resolve(self.opt_class)

    def kwargs(self, cfg: Any) -> dict[str, Any]:
        """The constructor arguments this optimizer takes from a TrainingConfig."""
        out: dict[str, Any] = {"lr": cfg.lr, "weight_decay": cfg.weight_decay}
        if self.has_momentum:
            out["momentum"] = cfg.momentum
        if self.has_nesterov:
            out["nesterov"] = bool(cfg.nesterov) and cfg.momentum > 0  # torch refuses Nesterov without momentum
        return out


OPTIMIZERS: dict[str, OptimizerInfo] = {
    o.name: o
    for o in (
        OptimizerInfo("sgd", "SGD", "Plain or momentum SGD (Nesterov optional); a fair choice once the learning rate "
                      "(~0.01) is tuned.", 0.01, "torch.optim:SGD", has_momentum=True, has_nesterov=True,
                      state_per_weight=1),
        OptimizerInfo("adam", "Adam", "Adaptive rates per weight; wants small learning rates (0.001 or lower).", 1e-3,
                      "torch.optim:Adam", has_betas=True, adaptive=True, state_per_weight=2),
        OptimizerInfo("adamw", "AdamW", "Adam with decoupled weight decay; a robust default.", 1e-3,
                      "torch.optim:AdamW", has_betas=True, adaptive=True, state_per_weight=2),
        OptimizerInfo("radam", "RAdam", "Adam with a rectified warm-up; less sensitive to the first steps.", 1e-3,
                      "torch.optim:RAdam", has_betas=True, adaptive=True, state_per_weight=2),
    )
}


def register_optimizer(info: OptimizerInfo) -> None:
    """Add or replace an optimizer (plugins use this through the `workbench.plugins` entry points)."""
    check_reference("optimizer", info.name, info.opt_class)
    OPTIMIZERS[info.name] = info
