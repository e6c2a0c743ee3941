"""Tuned CPU convolution gradients against PyTorch's own: training images/s, per architecture and image size.

    python benchmarks/conv_gradients_cpu.py [--rounds 3] [--steps 6] [name filter ...]

For each case it builds the model as a CPU run would (channels-last where the run uses it), plans which
convolutions compute their weight gradient by matrix product (`training.conv_gradients`, timing both kernels
on the real shapes, as a run's first time does), then times training steps (forward, backward, SGD) with the
plan and without, interleaved (A B A B, `--rounds` times) on the same random batch, and prints the medians and
their ratio. It also prints what planning cost. Run by hand; the figures depend on the CPU (the gain is where
oneDNN has no fast weight-gradient kernel, as on CPUs without AVX-512).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.core.config import ProjectConfig, with_updates
from workbench.core.models.factory import build_model
from workbench.core.training.conv_gradients import matmul_weight_gradients, plan_conv_gradients
from workbench.core.training.setup import uses_channels_last

CASES: list[tuple[str, dict, int, int]] = [  # name, settings, image side, channels
    ("small CNN, 32 px colour", {}, 32, 3),
    ("small CNN, 64 px colour", {}, 64, 3),
    ("resnet18, 32 px", {"model.architecture": "resnet18"}, 32, 3),
    ("resnet18, 64 px", {"model.architecture": "resnet18"}, 64, 3),
    ("resnet18, 128 px", {"model.architecture": "resnet18"}, 128, 3),
    ("resnet50, 64 px", {"model.architecture": "resnet50"}, 64, 3),
    ("efficientnet_b0, 64 px", {"model.architecture": "efficientnet_b0"}, 64, 3),
]


def step_seconds(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int,
                 optimizer: torch.optim.Optimizer) -> float:
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    start = time.perf_counter()
    for _ in range(steps):
        loss = loss_fn(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps


def measure(settings: dict, side: int, channels: int, rounds: int, steps: int, batch: int = 64) -> dict:
    config = with_updates(ProjectConfig(), {**settings, "preprocessing.image_size": side})
    torch.manual_seed(0)
    model = build_model(config, channels, 10)
    layout = torch.channels_last if uses_channels_last(model, torch.device("cpu")) else torch.contiguous_format
    model = model.to(memory_format=layout)
    x = torch.randn(batch, channels, side, side).contiguous(memory_format=layout)
    y = torch.randint(0, 10, (batch,))
    start = time.perf_counter()
    plan = plan_conv_gradients(model, x[:1], batch)
    planning = time.perf_counter() - start
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    step_seconds(model, x, y, 2, optimizer)  # warm-up, both ways
    with matmul_weight_gradients(plan.modules):
        step_seconds(model, x, y, 2, optimizer)
    plain, tuned = [], []
    for _ in range(rounds):
        plain.append(step_seconds(model, x, y, steps, optimizer))
        with matmul_weight_gradients(plan.modules):
            tuned.append(step_seconds(model, x, y, steps, optimizer))
    return {"plain": statistics.median(plain), "tuned": statistics.median(tuned), "planning": planning,
            "switched": len(plan.modules), "layers": plan.layers}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("filters", nargs="*", help="only the cases whose name contains one of these")
    args = parser.parse_args(argv)
    # A fresh timing store, so that each case pays its planning as a machine's first run does.
    os.environ["WORKBENCH_CACHE_DIR"] = tempfile.mkdtemp(prefix="workbench-conv-bench-")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'case':32s} {'layers':>9s} {'plain ms':>9s} {'tuned ms':>9s} {'speed-up':>9s} {'planning s':>11s}")
    for name, settings, side, channels in CASES:
        if args.filters and not any(f in name for f in args.filters):
            continue
        r = measure(settings, side, channels, args.rounds, args.steps)
        print(f"{name:32s} {r['switched']:>4d}/{r['layers']:<4d} {1e3 * r['plain']:9.1f} {1e3 * r['tuned']:9.1f} "
              f"{r['plain'] / r['tuned']:8.2f}x {r['planning']:11.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
