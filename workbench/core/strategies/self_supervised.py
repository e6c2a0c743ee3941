"""Self-supervised pretraining on unlabelled images (paper section V-C), then transfer or fine-tuning.

Every method learns from two random views of each image (views.py, each method with its paper's
recipe) through a projection head that is dropped afterwards:
- SimCLR (Chen et al. 2020): each view must recognise its partner among the batch (NT-Xent loss);
- BYOL (Grill et al. 2020): an online network predicts a slowly moving target network's projection;
- SimSiam (Chen & He 2021): like BYOL without the target network, using a stop-gradient;
- Barlow Twins (Zbontar et al. 2021): the views' embeddings should correlate feature by feature, and
  different features should not.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from workbench.core.models.evaluating import evaluating
from workbench.core.strategies import losses
from workbench.core.strategies.base import StrategyContext
from workbench.core.strategies.pretraining import PretrainingStrategy, PretrainTask
from workbench.core.strategies.views import ssl_views, two_views

METHODS = ("simclr", "byol", "simsiam", "barlow_twins")
BYOL_BASE_MOMENTUM = 0.99


def feature_dim(model: nn.Module, in_channels: int, size: int) -> int:
    from workbench.core.models.factory import penultimate_features

    with evaluating(model):
        device = next(model.parameters()).device
        dim = penultimate_features(model, torch.zeros(2, in_channels, size, size, device=device)).shape[1]
    return int(dim)


class SelfSupervisedTask(PretrainTask):
    def __init__(self, model: nn.Module, context: StrategyContext) -> None:
        super().__init__(model, context)
        scfg = context.config.strategy
        size = context.config.preprocessing.image_size
        self.method, self.temperature = scfg.ssl_method, scfg.temperature
        if self.method not in METHODS:
            raise ValueError(f"unknown self-supervised method {self.method!r}; choose one of {', '.join(METHODS)}")
        self.views = ssl_views(self.method, size, context.data.in_channels)
        dim = feature_dim(model, context.data.in_channels, size)
        hidden = max(2 * dim, scfg.projection_dim)
        self.projector = losses.projection_mlp(dim, hidden, scfg.projection_dim)
        if self.method in ("byol", "simsiam"):
            self.predictor = losses.projection_mlp(scfg.projection_dim, max(scfg.projection_dim // 2, 16),
                                                   scfg.projection_dim)
        if self.method == "byol":
            self.target = nn.ModuleDict({"model": copy.deepcopy(model), "projector": copy.deepcopy(self.projector)})
            self.target.requires_grad_(False)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.encode(x))

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        v1, v2 = (self.prepare(v) for v in two_views(batch, self.views))
        z1, z2 = self.project(v1), self.project(v2)
        if self.method == "simclr":
            return losses.nt_xent(z1, z2, self.temperature)
        if self.method == "barlow_twins":
            return losses.barlow_twins_loss(z1, z2)
        p1, p2 = self.predictor(z1), self.predictor(z2)
        if self.method == "simsiam":
            return losses.simsiam_loss(p1, p2, z1, z2)
        from workbench.core.models.factory import penultimate_features

        with torch.no_grad():
            t1, t2 = (self.target["projector"](penultimate_features(self.target["model"], v)) for v in (v1, v2))
        return losses.byol_loss(p1, p2, t1, t2)

    @torch.no_grad()
    def after_step(self, progress: float) -> None:
        if self.method != "byol":
            return
        # The target follows the online network with a momentum rising from 0.99 to 1 (cosine), as in BYOL.
        tau = 1 - (1 - BYOL_BASE_MOMENTUM) * (math.cos(math.pi * progress) + 1) / 2
        online = list(self.model.parameters()) + list(self.projector.parameters())
        target = list(self.target["model"].parameters()) + list(self.target["projector"].parameters())
        for t, o in zip(target, online, strict=True):
            t.mul_(tau).add_(o.detach(), alpha=1 - tau)
        for t, o in zip(self.target.buffers(), list(self.model.buffers()) + list(self.projector.buffers()), strict=True):
            t.copy_(o)  # batch-norm statistics are copied, not averaged


class SelfSupervisedStrategy(PretrainingStrategy):
    checkpoint_name = "pretrain_ssl.pt"
    label = "self-supervised pretraining"

    def make_task(self, model: nn.Module, context: StrategyContext) -> PretrainTask:
        return SelfSupervisedTask(model, context)
