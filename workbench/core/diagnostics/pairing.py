"""Checklist item 4: do the output layer, its activation and the loss fit the targets?

The paper's Fig. 4c: a binary network with one sigmoid output unit trained with categorical
cross-entropy learns nothing, because a softmax over one unit is always 1. Likewise a final softmax or
sigmoid before `CrossEntropyLoss` (which applies its own log-softmax) flattens the gradients.
"""

from __future__ import annotations

import torch
from torch import nn

from workbench.core.diagnostics.findings import PROBLEM, WARNING, Finding
from workbench.core.models.evaluating import evaluating

LOSSES = ("cross_entropy", "nll", "bce", "bce_with_logits", "mse")
_SQUASHERS = (nn.Sigmoid, nn.Softmax, nn.LogSoftmax, nn.Tanh, nn.ReLU, nn.Softmin)


def _leaves_in_call_order(model: nn.Module, example: torch.Tensor | None) -> tuple[list[nn.Module], torch.Tensor | None]:
    """Leaf modules in the order they ran on `example` (registration order without one), and the output."""
    leaves = [m for m in model.modules() if not list(m.children())]
    if example is None:
        return leaves, None
    order: list[nn.Module] = []
    with evaluating(model, [m.register_forward_hook(lambda mod, _i, _o: order.append(mod)) for m in leaves]):
        output = model(example)
    return order, output


def _last_layer_units(leaves: list[nn.Module]) -> int | None:
    for module in reversed(leaves):
        if isinstance(module, nn.Linear):
            return module.out_features
        if isinstance(module, nn.Conv2d):
            return module.out_channels
    return None


def check_output_pairing(model: nn.Module, num_classes: int, loss_name: str = "cross_entropy",
                         example: torch.Tensor | None = None) -> list[Finding]:
    """Findings on the pairing of output units, final activation and loss (empty when they fit).

    `example`, a small input batch, lets the check run the model: it then sees activations applied in
    `forward` code too (outputs that all lie in 0–1 or sum to one per row).
    """
    if loss_name not in LOSSES:
        raise ValueError(f"unknown loss {loss_name!r}; choose one of {LOSSES}")
    leaves, output = _leaves_in_call_order(model, example)
    units = int(output.shape[1]) if output is not None and output.ndim >= 2 else _last_layer_units(leaves)
    final = leaves[-1] if leaves else None
    final_name = type(final).__name__ if isinstance(final, _SQUASHERS) else ""
    if output is not None and not final_name and output.ndim == 2 and output.shape[1] > 1:
        values = output.float()
        varied = float(values.std()) > 1e-6  # an all-zero head (zero-initialised) says nothing
        sums_to_one = bool(torch.allclose(values.sum(1), torch.ones_like(values[:, 0]), atol=1e-3))
        if varied and float(values.min()) >= 0 and sums_to_one:
            final_name = "Softmax"
        elif varied and float(values.min()) > 0 and float(values.max()) < 1:
            final_name = "Sigmoid"
    evidence = {"output_units": units, "num_classes": num_classes, "final_activation": final_name or "none",
                "loss": loss_name}
    findings: list[Finding] = []

    def add(code: str, severity: str, title: str, explanation: str, fix: str) -> None:
        findings.append(Finding(code, severity, title, explanation, fix, evidence, pane="model", paper_item="II-A.4"))

    if units == 1 and num_classes >= 2 and loss_name in ("cross_entropy", "nll"):
        add("single-output-unit", PROBLEM, "One output unit with a categorical loss",
            "The network ends in a single unit, but the loss compares a probability vector over "
            f"{num_classes} classes. A softmax over one unit is always 1, so the loss is constant and nothing is "
            "learned (paper, Fig. 4c).", f"Give the last layer {num_classes} units (one per class).")
    elif units == 1 and num_classes > 2:
        add("single-output-unit", PROBLEM, f"One output unit for {num_classes} classes",
            f"A single output unit cannot represent {num_classes} exclusive classes.",
            f"Give the last layer {num_classes} units and use cross-entropy.")
    elif units is not None and units not in (1, num_classes):
        add("output-units-mismatch", PROBLEM, f"{units} output units for {num_classes} classes",
            f"The last layer has {units} units but the data has {num_classes} classes; targets and outputs do not "
            "line up.", f"Give the last layer {num_classes} units.")
    if loss_name == "cross_entropy" and final_name in ("Softmax", "Sigmoid", "LogSoftmax", "Tanh", "ReLU", "Softmin"):
        severity = PROBLEM if final_name in ("Sigmoid", "ReLU", "Tanh") else WARNING
        add("activation-before-cross-entropy", severity, f"{final_name} before cross-entropy",
            f"The network's outputs pass through {final_name}, but cross-entropy applies its own softmax to raw "
            "scores (logits). The squashed outputs give nearly flat gradients and probabilities that are never "
            "confident, so training is slow or stalls (paper, item 4: the target must match what the last layer "
            "and its activation output).", f"Remove the final {final_name}; let the loss see the raw scores.")
    if loss_name == "nll" and final_name != "LogSoftmax":
        add("nll-without-log-softmax", PROBLEM, "Negative log-likelihood without log-softmax",
            "NLL loss expects log-probabilities, but the network does not end in LogSoftmax.",
            "End the network in LogSoftmax, or use cross-entropy on the raw scores.")
    if loss_name == "bce" and final_name != "Sigmoid":
        add("bce-without-sigmoid", PROBLEM, "Binary cross-entropy on unbounded outputs",
            "BCELoss expects probabilities in 0–1, but the outputs are not passed through a sigmoid.",
            "Use BCEWithLogitsLoss on the raw scores, or end the network in Sigmoid.")
    if loss_name == "bce_with_logits" and final_name in ("Sigmoid", "Softmax"):
        add("double-sigmoid", WARNING, f"{final_name} before BCEWithLogitsLoss",
            "BCEWithLogitsLoss applies its own sigmoid; a second one squashes the outputs and the gradients.",
            f"Remove the final {final_name}.")
    if loss_name == "bce_with_logits" and num_classes > 2 and units == num_classes:
        add("multilabel-loss-for-exclusive-classes", WARNING, "Independent sigmoids for exclusive classes",
            "Binary cross-entropy treats each class separately (multi-label); when each image has exactly one "
            "class, the outputs need not sum to one and accuracy can suffer.",
            "Use cross-entropy (softmax over the classes).")
    if loss_name == "mse":
        add("regression-loss-for-classes", WARNING, "Mean squared error for a classification task",
            "MSE compares numbers, not class probabilities; with softmax outputs its gradients vanish when the "
            "network is confidently wrong.", "Use cross-entropy for classification.")
    return findings
