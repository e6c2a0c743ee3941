"""Peer benchmark: `workbench train` (doctor on, defaults) against the plain timm + torch script a skilled user writes.

    python benchmarks/peer_timm.py [--model resnet18] [--images 1000] [--size 32] [--epochs 2] [--rounds 2]

Both train the same timm model, from scratch, on the same generated ImageFolder (real digit scans from
scikit-learn, enlarged to --size px in colour with a little noise: --images training and --images validation
images, plus a small test split Workbench keeps locked), with the same batch size, epochs and SGD, one
validation pass per epoch. Each is a fresh process, so each pays its own start-up. Runs are interleaved
(plain, Workbench on a new dataset store, plain, Workbench again on the same dataset), and the script prints,
as medians over the rounds:
- wall-time ratio Workbench ÷ plain, first run of a dataset (target <= 1.0) and second run (target <= 0.8);
- training-epoch images/s ratio Workbench ÷ plain (each side's own timing of its training epochs).
A run by hand, never by CI. Targets are ratios; on a shared machine the figures are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# The plain script, as a skilled user would write it: timm.create_model, an ImageFolder DataLoader, SGD,
# a validation pass each epoch. It prints one JSON line per epoch with its training time.
PLAIN_SCRIPT = r'''
import json, sys, time
import timm, torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

root, model_name, size, epochs, batch, lr = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
    int(sys.argv[5]), float(sys.argv[6])
torch.manual_seed(0)
tf = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                         transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
train_set = datasets.ImageFolder(f"{root}/train", tf)
val_set = datasets.ImageFolder(f"{root}/val", tf)
train_loader = DataLoader(train_set, batch_size=batch, shuffle=True, num_workers=2, persistent_workers=True)
val_loader = DataLoader(val_set, batch_size=batch, num_workers=2, persistent_workers=True)
model = timm.create_model(model_name, pretrained=False, num_classes=len(train_set.classes))
optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(epochs):
    model.train()
    start, seen = time.perf_counter(), 0
    for x, y in train_loader:
        loss = loss_fn(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seen += len(y)
    train_seconds = time.perf_counter() - start
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in val_loader:
            correct += int((model(x).argmax(1) == y).sum())
    print(json.dumps({"epoch": epoch + 1, "train_seconds": train_seconds, "images": seen,
                      "val_accuracy": correct / len(val_set)}), flush=True)
'''


def write_dataset(root: Path, per_split: int, size: int, seed: int = 0) -> Path:
    """train/val/test ImageFolders of enlarged, tinted digit scans (10 classes)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(digits.target))
    counts = {"train": per_split, "val": per_split, "test": max(50, per_split // 10)}
    cursor = 0
    for split, count in counts.items():
        for n in range(count):
            i = order[(cursor + n) % len(order)]
            grey = Image.fromarray(np.round(digits.images[i] * 255 / 16).astype(np.uint8)).resize((size, size))
            pixels = np.asarray(grey, dtype=np.float32)[..., None] * rng.uniform(0.6, 1.0, 3)
            pixels = np.clip(pixels + rng.normal(0, 8, pixels.shape), 0, 255).astype(np.uint8)
            folder = root / split / f"digit_{digits.target[i]}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels, "RGB").save(folder / f"{split}_{n:05d}.png")
        cursor += count
    return root


def env(cache_dir: Path) -> dict[str, str]:
    out = dict(os.environ, WORKBENCH_CACHE_DIR=str(cache_dir), PYTHONPATH=str(ROOT))
    out.pop("WORKBENCH_DIAGNOSTICS_IN_PROCESS", None)
    return out


def run_plain(dataset: Path, args: argparse.Namespace, cache_dir: Path) -> tuple[float, float]:
    """(wall seconds, training images/s) of the plain script."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PLAIN_SCRIPT, str(dataset), args.model, str(args.size),
                          str(args.epochs), str(args.batch_size), str(args.lr)], env=env(cache_dir),
                         capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    epochs = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    return wall, sum(e["images"] for e in epochs) / sum(e["train_seconds"] for e in epochs)


def write_project(dataset: Path, runs: Path, args: argparse.Namespace, path: Path) -> Path:
    from workbench.core.config import ProjectConfig, save_config

    config = ProjectConfig(name="peer", runs_dir=str(runs))
    config.data.source = str(dataset)
    config.data.layout = "presplit"
    config.preprocessing.image_size = args.size
    config.preprocessing.normalization = "imagenet"
    config.model.architecture = args.model
    config.training.optimizer = "sgd"
    config.training.lr = args.lr
    config.training.momentum = 0.9
    config.training.weight_decay = 1e-4
    config.training.scheduler = "constant"
    config.training.epochs = args.epochs
    config.training.batch_size = args.batch_size
    config.training.early_stopping_patience = 0
    save_config(config, path)
    return path


def run_workbench(project: Path, runs: Path, cache_dir: Path) -> tuple[float, float]:
    """(wall seconds, training images/s from the run's metrics.jsonl) of `workbench train`, doctor on."""
    before = set(runs.iterdir()) if runs.exists() else set()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "workbench", "train", str(project)], env=env(cache_dir),
                   capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    run_dir = next(p for p in runs.iterdir() if p.is_dir() and p not in before)
    epochs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
    report = json.loads((run_dir / "data_report.json").read_text())
    train_images = report["split_sizes"]["train"] * len(epochs)
    return wall, train_images / sum(e["seconds"] for e in epochs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--images", type=int, default=1000, help="training images, and as many validation images")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="workbench-peer-"))
    dataset = write_dataset(work / "data", args.images, args.size)
    runs = work / "runs"
    project = write_project(dataset, runs, args, work / "peer.toml")
    first, second, speed = [], [], []
    for round_ in range(args.rounds):
        store = work / f"store-{round_}"  # a new dataset store: the first run of this dataset
        plain_wall, plain_ips = run_plain(dataset, args, store)
        wb_wall, wb_ips = run_workbench(project, runs, store)
        first.append(wb_wall / plain_wall)
        speed.append(wb_ips / plain_ips)
        print(f"round {round_ + 1}: first run  plain {plain_wall:6.1f} s ({plain_ips:5.0f} img/s)  "
              f"workbench {wb_wall:6.1f} s ({wb_ips:5.0f} img/s)", flush=True)
        plain_wall, plain_ips = run_plain(dataset, args, store)
        wb_wall, wb_ips = run_workbench(project, runs, store)  # same store: the data checks are known
        second.append(wb_wall / plain_wall)
        speed.append(wb_ips / plain_ips)
        print(f"round {round_ + 1}: second run plain {plain_wall:6.1f} s ({plain_ips:5.0f} img/s)  "
              f"workbench {wb_wall:6.1f} s ({wb_ips:5.0f} img/s)", flush=True)
    print(f"wall ratio workbench/plain, first run of the dataset : {statistics.median(first):.2f}  (target <= 1.0)")
    print(f"wall ratio workbench/plain, second run               : {statistics.median(second):.2f}  (target <= 0.8)")
    print(f"training-epoch images/s ratio workbench/plain        : {statistics.median(speed):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
