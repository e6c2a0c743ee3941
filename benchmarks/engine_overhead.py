"""Engine overhead: images/s through the Workbench engine (all callbacks on) against a minimal PyTorch loop.

Both train the same small CNN on the same cached tensors with the same batch size and optimizer.
Run by hand: `python benchmarks/engine_overhead.py [--epochs N]`. Target: ratio >= 0.95.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from workbench.core.callbacks import Callback, CallbackList, MetricsLogCallback, ThrottledCallback
from workbench.core.data.pipeline import prepare_data
from workbench.core.data.stats import normalize
from workbench.core.demo import demo_config, write_digits_dataset
from workbench.core.events import BatchEnded, EpochEnded
from workbench.core.models.factory import build_model
from workbench.core.training.engine import train
from workbench.progress import ConsoleProgress


class TrainTimer(Callback):
    """Sums the training time of each epoch as the engine measures it (validation excluded)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.images = 0
        self.batches = 0

    def on_batch_ended(self, event: BatchEnded) -> None:
        self.batches += 1

    def on_epoch_ended(self, event: EpochEnded) -> None:
        self.seconds += event.seconds


def minimal_loop(config, epochs: int) -> float:
    """Images/s of a plain loop over the same cached tensors (no events, no checkpoints)."""
    data = prepare_data(config)
    torch.manual_seed(config.training.seed)
    model = build_model(config, data.in_channels, len(data.class_names))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.training.lr, weight_decay=config.training.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    train_idx = data.indices("train")
    bs = config.training.batch_size
    images, seconds = 0, 0.0
    for epoch in range(epochs):
        model.train()
        order = train_idx[np.random.default_rng([0, epoch]).permutation(len(train_idx))]
        start = time.perf_counter()
        for i in range(0, len(order), bs):
            idx = order[i:i + bs]
            x = normalize(torch.from_numpy(data.images.array[idx]).float() / data.images.value_scale, data.stats)
            y = torch.from_numpy(data.labels[idx])
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            images += len(idx)
        seconds += time.perf_counter() - start
    return images / seconds


def engine_loop(config, epochs: int) -> float:
    timer = TrainTimer()
    with tempfile.TemporaryDirectory() as runs:
        config = config.model_copy(update={"runs_dir": runs})
        config.training.epochs = epochs
        callbacks = CallbackList([timer, ThrottledCallback(ConsoleProgress(live_bars=False)), MetricsLogCallback(Path(runs))])
        result = train(config, callbacks)
        assert result.status == "completed", result.reason
    train_images = len(prepare_data(config).indices("train")) * epochs
    return train_images / timer.seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    with tempfile.TemporaryDirectory() as tmp:
        dataset = write_digits_dataset(Path(tmp) / "digits")
        config = demo_config(dataset, Path(tmp) / "runs")
        config.preprocessing.augmentation.rotation = 0.0  # the minimal loop does not augment either
        config.training.scheduler = "constant"
        engine_rates, plain_rates = [], []
        for _ in range(args.repeats):  # interleave to share any machine noise fairly
            plain_rates.append(minimal_loop(config, args.epochs))
            engine_rates.append(engine_loop(config, args.epochs))
    engine, plain = float(np.median(engine_rates)), float(np.median(plain_rates))
    print(f"minimal PyTorch loop : {plain:8.0f} images/s (median of {args.repeats})")
    print(f"Workbench engine     : {engine:8.0f} images/s (median of {args.repeats})")
    print(f"ratio engine/minimal : {engine / plain:.3f}  (target >= 0.95)")


if __name__ == "__main__":
    main()
