"""`evaluating`: a pass through a training model in evaluation mode leaves the model as it was, even on failure."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from workbench.core.models.evaluating import evaluating


def test_a_pass_leaves_the_flag_the_statistics_and_no_hook_behind() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).train()
    seen: list[bool] = []
    hooks = [model[2].register_forward_hook(lambda m, i, o: seen.append(torch.is_grad_enabled()))]
    before = model[1].running_mean.clone()
    with evaluating(model, hooks):
        assert not model.training and not model[1].training
        model(torch.randn(2, 3, 8, 8))
    assert model.training and seen == [False] and torch.equal(model[1].running_mean, before)
    model(torch.randn(2, 3, 8, 8))
    assert seen == [False]  # the hook is gone
    with evaluating(model, no_grad=False):
        assert model(torch.randn(2, 3, 8, 8)).requires_grad


def test_a_failing_pass_still_restores_the_model() -> None:
    model = nn.Sequential(nn.Linear(3, 2)).train()
    hooks = [model[0].register_forward_hook(lambda m, i, o: None)]
    with pytest.raises(RuntimeError), evaluating(model, hooks):
        model(torch.randn(2, 5))  # wrong width
    assert model.training and not model[0]._forward_hooks
