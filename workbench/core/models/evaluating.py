"""A model in evaluation mode for a moment: its training flag, and any hooks put on it, are restored afterwards.

Diagnostics and strategies pass a few images through a model that is training (to read shapes, activations or
probabilities); batch-norm statistics and dropout must not change, and the model must come back as it was even
when the pass fails.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle


@contextlib.contextmanager
def evaluating(model: nn.Module, hooks: Iterable[RemovableHandle] = (), no_grad: bool = True) -> Iterator[nn.Module]:
    """`model` in evaluation mode (and without gradients, unless `no_grad` is False) within the block; then its
    training flag as before, and `hooks` removed."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad() if no_grad else contextlib.nullcontext():
            yield model
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
