"""GPU training throughput: images/s through the Workbench engine against a plain loop on the same GPU.

    python benchmarks/gpu_throughput.py [--models resnet18 resnet50 vit_small_patch16_224] [--size 224]
                                        [--epochs 2] [--batch-size 128] [--device cuda]

For each model, both sides train from scratch on the same decoded tensors (the digits, enlarged to --size px
in colour), with the same batch size and SGD, in mixed precision (bf16 where the GPU has it, else fp16 with a
gradient scaler) and channels-last (not for the ViT, which has no convolutions past its patch embedding):
- the engine: `workbench.core.training.engine.train` with the doctor off, its own timing of each epoch
  (EpochEnded.seconds; validation excluded);
- the plain loop: the batches indexed from the same decoded array, moved to the GPU, normalised there, and a
  forward, backward and step under `torch.autocast`, synchronised before the clock stops.
The last epoch counts on both sides (the first one includes cuDNN's tuning and the allocator's growth). The
rounds interleave the two (A B A B). Run by hand where a GPU is lent; `--device cpu --size 32 --images 256`
checks that the script runs on a machine without one (the figures then mean nothing).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.core.callbacks import Callback
from workbench.core.config import ProjectConfig
from workbench.core.data.pipeline import PreparedData, prepare_data
from workbench.core.demo import write_digits_dataset
from workbench.core.events import EpochEnded
from workbench.core.models.factory import build_model
from workbench.core.training.engine import train


class LastEpoch(Callback):
    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_epoch_ended(self, event: EpochEnded) -> None:
        self.seconds.append(event.seconds)


def project(dataset: Path, runs: Path, args: argparse.Namespace, model: str) -> ProjectConfig:
    config = ProjectConfig(name="gpu-throughput", runs_dir=str(runs))
    config.data.source = str(dataset)
    config.data.val_fraction, config.data.test_fraction = 0.1, 0.05
    config.preprocessing.image_size = args.size
    config.preprocessing.channels = "rgb"
    config.preprocessing.normalization = "imagenet"
    config.preprocessing.augmentation.rotation = 0.0  # the plain loop does not augment either
    config.model.architecture = model
    config.training.device = args.device
    config.training.optimizer = "sgd"
    config.training.lr, config.training.momentum = 0.01, 0.9
    config.training.scheduler = "constant"
    config.training.epochs = args.epochs
    config.training.batch_size = args.batch_size
    config.training.amp = True
    config.training.channels_last = not model.startswith(("vit", "deit"))
    config.training.early_stopping_patience = 0
    config.diagnostics.enabled = False  # throughput of training itself; the doctor has its own benchmarks
    return config


def engine_rate(config: ProjectConfig, train_images: int) -> float:
    timer = LastEpoch()
    result = train(config, timer)
    assert result.status == "completed", result.reason
    return train_images / timer.seconds[-1]


def plain_rate(config: ProjectConfig, data: PreparedData) -> float:
    device = torch.device(config.training.device)
    torch.manual_seed(0)
    model = build_model(config, data.in_channels, len(data.class_names)).to(device)
    layout = torch.channels_last if config.training.channels_last else torch.contiguous_format
    model = model.to(memory_format=layout)
    dtype = None
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    mean = torch.tensor(data.stats.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(data.stats.std, device=device).view(1, -1, 1, 1)
    rows = data.indices("train")
    batch = config.training.batch_size
    seconds = 0.0
    for epoch in range(config.training.epochs):
        model.train()
        order = rows[np.random.default_rng(epoch).permutation(len(rows))]
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for i in range(0, len(order), batch):
            idx = np.sort(order[i:i + batch])
            x = torch.from_numpy(np.ascontiguousarray(data.images.array[idx])).to(device, non_blocking=True)
            x = ((x.float() / data.images.value_scale - mean) / std).contiguous(memory_format=layout)
            y = torch.from_numpy(data.labels[idx]).to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start  # the last epoch's
    return len(rows) / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet18", "resnet50", "vit_small_patch16_224"])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--images", type=int, default=0, help="use only this many images (0 = all 1,797)")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device here: nothing to measure (try --device cpu --size 32 --images 256 to check the script)")
        return 1
    work = Path(tempfile.mkdtemp(prefix="workbench-gpu-"))
    dataset = write_digits_dataset(work / "digits")
    if args.images:  # every k-th file, so that each class keeps its share
        paths = sorted(dataset.rglob("*.png"))
        kept = set(paths[::max(1, len(paths) // args.images)])
        for path in paths:
            if path not in kept:
                path.unlink()
    name = torch.cuda.get_device_name() if args.device == "cuda" else args.device
    print(f"{name}, torch {torch.__version__}, {args.size} px, batch {args.batch_size}, last of {args.epochs} epochs")
    print(f"{'model':28s} {'plain img/s':>12s} {'engine img/s':>13s} {'ratio':>7s}")
    for model in args.models:
        config = project(dataset, work / "runs", args, model)
        data = prepare_data(config)
        train_images = len(data.indices("train"))
        plain, engine = [], []
        for _ in range(args.rounds):
            plain.append(plain_rate(config, data))
            engine.append(engine_rate(config, train_images))
        p, e = statistics.median(plain), statistics.median(engine)
        print(f"{model:28s} {p:12.0f} {e:13.0f} {e / p:7.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
