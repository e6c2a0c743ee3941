"""Channels-last against the default layout on the CPU: training and evaluation images/s, per architecture.

    python benchmarks/channels_last_cpu.py [--rounds 3] [--steps 8] [name filter ...]

For each case it builds the model as a run would (the small CNN with several settings, and timm models),
then times training steps (forward, backward, SGD) and evaluation passes in both layouts, interleaved
(A B A B, `--rounds` times) on the same random batch, and prints the medians and their ratio. The
engine's choice of layout (`training.setup.uses_channels_last`) rests on these ratios. Run by hand.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.core.config import ProjectConfig, with_updates
from workbench.core.models.factory import build_model

CASES: list[tuple[str, dict, int, int]] = [  # name, settings, image side, channels
    ("small CNN, 16 px grey", {}, 16, 1),
    ("small CNN, 64 px colour", {}, 64, 3),
    ("small CNN, group norm", {"model.small_cnn.normalization": "group"}, 32, 3),
    ("small CNN, instance norm", {"model.small_cnn.normalization": "instance"}, 32, 3),
    ("small CNN, layer norm", {"model.small_cnn.normalization": "layer"}, 32, 3),
    ("small CNN, depthwise + blur", {"model.small_cnn.conv_type": "depthwise_separable",
                                     "model.small_cnn.downsample": "blur"}, 32, 3),
    ("resnet18, 32 px", {"model.architecture": "resnet18"}, 32, 3),
    ("efficientnet_b0, 32 px", {"model.architecture": "efficientnet_b0"}, 32, 3),
    ("mobilenetv3_small_100, 64 px", {"model.architecture": "mobilenetv3_small_100"}, 64, 3),
]


def images_per_second(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, train: bool,
                      optimizer: torch.optim.Optimizer) -> float:
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train(train)
    start = time.perf_counter()
    for _ in range(steps):
        if train:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        else:
            with torch.no_grad():
                model(x)
    return len(x) * steps / (time.perf_counter() - start)


def measure(settings: dict, side: int, channels: int, rounds: int, steps: int, batch: int = 64) -> dict[str, float]:
    config = with_updates(ProjectConfig(), {**settings, "preprocessing.image_size": side})
    torch.manual_seed(0)
    x, y = torch.randn(batch, channels, side, side), torch.randint(0, 10, (batch,))
    layouts = {}
    for last in (False, True):
        model = build_model(config, channels, 10)
        layout = torch.channels_last if last else torch.contiguous_format
        model = model.to(memory_format=layout)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        data = x.contiguous(memory_format=layout)
        images_per_second(model, data, y, 2, True, optimizer)  # warm-up: kernels chosen, memory allocated
        layouts[last] = (model, data, optimizer)
    results: dict[str, list[float]] = {"train": [], "train_cl": [], "eval": [], "eval_cl": []}
    for _ in range(rounds):
        for last, suffix in ((False, ""), (True, "_cl")):
            model, data, optimizer = layouts[last]
            results["train" + suffix].append(images_per_second(model, data, y, steps, True, optimizer))
            results["eval" + suffix].append(images_per_second(model, data, y, steps, False, optimizer))
    return {k: statistics.median(v) for k, v in results.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("only", nargs="*", help="run only the cases whose name contains one of these")
    args = parser.parse_args(argv)
    print(f"{'case':32s} {'train img/s':>22s} {'ratio':>6s} {'eval img/s':>22s} {'ratio':>6s}")
    for name, settings, side, channels in CASES:
        if args.only and not any(part in name for part in args.only):
            continue
        r = measure(settings, side, channels, args.rounds, args.steps)
        print(f"{name:32s} {r['train']:9.0f} -> {r['train_cl']:9.0f} {r['train_cl'] / r['train']:6.2f} "
              f"{r['eval']:9.0f} -> {r['eval_cl']:9.0f} {r['eval_cl'] / r['eval']:6.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
