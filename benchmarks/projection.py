"""Benchmark of the feature projections: time per method and size, and the training slow-down they cause.

Run by hand, never by CI:

    python benchmarks/projection.py                 # 2,000 and 10,000 vectors, every method, then the slow-down
    python benchmarks/projection.py --sizes 2000 --methods pca tsne --train-steps 150

The projections run as during training: one thread, in the background. The slow-down is the ratio of
training images per second with and without a t-SNE (or UMAP) running in parallel, on the small CNN with
16×16 images; short windows alternate and the median of paired ratios is taken, because a shared machine is
noisy. It is given
for the worker's lowered thread priority (what training uses) and for normal priority.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def clustered(n: int, dims: int = 64, classes: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Feature vectors like a trained network's penultimate layer: noisy clusters, one per class."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2.0, (classes, dims))
    labels = rng.integers(0, classes, n)
    return (centres[labels] + rng.normal(0, 1.0, (n, dims))).astype(np.float32), labels


def time_projections(sizes: list[int], methods: list[str]) -> None:
    from workbench.core.projection import project, separability_scores, wait_for_umap

    if "umap" in methods:
        started = time.perf_counter()
        wait_for_umap()
        print(f"UMAP warm-up (import + JIT, hidden in a daemon thread during real use): {time.perf_counter() - started:.1f} s")
    print(f"\n{'method':<6} {'points':>7} {'seconds':>8} {'kNN acc of layout':>18}")
    for n in sizes:
        features, labels = clustered(n)
        for method in methods:
            started = time.perf_counter()
            points = project(features, method, seed=0)
            seconds = time.perf_counter() - started
            knn = separability_scores(points, labels, max_points=2000)["knn_accuracy"]
            print(f"{method:<6} {n:>7} {seconds:>8.2f} {knn:>18.3f}", flush=True)
    features, labels = clustered(2000)
    started = time.perf_counter()
    separability_scores(features, labels)
    print(f"\nseparability scores (kNN CV + silhouette) on 2,000 × 64: {time.perf_counter() - started:.2f} s")


def training_rate(steps: int, batch: int = 64, size: int = 16, width: int = 32) -> float:
    """Images per second of the small CNN's training steps (forward, backward, AdamW)."""
    import torch

    from workbench.core.config import SmallCNNConfig
    from workbench.core.models.small_cnn import SmallCNN

    torch.manual_seed(0)
    model = SmallCNN(SmallCNNConfig(width=width, depth=3), 1, 10, size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = torch.randn(batch, 1, size, size), torch.randint(0, 10, (batch,))
    for _ in range(5):  # warm-up
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    started = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    return steps * batch / (time.perf_counter() - started)


class BusyProjector:
    """Projects the same features again and again in a background thread, as the worker does during training.

    `pause()` returns once the fit in progress has finished, so an "alone" window is really alone (a UMAP fit
    in the helper process cannot be interrupted).
    """

    def __init__(self, method: str, features: np.ndarray, nice: bool) -> None:
        self.method, self.features, self.nice = method, features, nice
        self.active, self.idle, self.stop = threading.Event(), threading.Event(), threading.Event()
        self.idle.set()
        self.fits = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        from workbench.core.diagnostics.background import lower_thread_priority
        from workbench.core.projection import project

        if self.nice:
            lower_thread_priority()
        while not self.stop.is_set():
            if not self.active.wait(0.05):
                continue
            self.idle.clear()
            try:
                project(self.features, self.method, seed=self.fits, should_stop=self.stop.is_set)
                self.fits += 1
            except InterruptedError:
                pass
            finally:
                self.idle.set()

    def resume(self) -> None:
        self.active.set()
        time.sleep(0.3)  # let the projection get going

    def pause(self) -> None:
        self.active.clear()
        self.idle.wait()

    def close(self) -> None:
        self.active.clear()
        self.stop.set()
        self.thread.join()


def slowdown(method: str, points: int, steps: int, rounds: int, nice: bool) -> None:
    """Median of paired ratios: a window with a projection running beside training over the window just before."""
    from workbench.core.projection import wait_for_umap

    if method == "umap":
        wait_for_umap()
    features, _ = clustered(points)
    projector = BusyProjector(method, features, nice)
    ratios, alone, busy = [], [], []
    for _ in range(rounds):
        projector.pause()
        alone.append(training_rate(steps))
        projector.resume()
        busy.append(training_rate(steps))
        ratios.append(busy[-1] / alone[-1])
    projector.close()
    priority = "lowered" if nice else "normal "
    print(f"{method:<6} {points:>6} points, {priority} priority: median {np.median(alone):7.0f} img/s alone, "
          f"{np.median(busy):7.0f} img/s with the projection running -> ratio {np.median(ratios):.2f} "
          f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}; {projector.fits} fits)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--methods", nargs="+", default=["pca", "tsne", "umap"])
    parser.add_argument("--train-steps", type=int, default=30, help="training steps per measurement window")
    parser.add_argument("--rounds", type=int, default=7, help="alternating alone/with-projection windows")
    parser.add_argument("--slowdown-points", type=int, default=2000, help="points projected during the slow-down test")
    parser.add_argument("--skip-timings", action="store_true", help="measure only the training slow-down")
    args = parser.parse_args()
    import torch

    print(f"CPU cores: {os.cpu_count()}, torch threads: {torch.get_num_threads()}")
    if not args.skip_timings:
        time_projections(args.sizes, args.methods)
    print("\ntraining slow-down while a projection runs in the background worker:")
    for method in [m for m in args.methods if m != "pca"]:
        for nice in (True, False):
            slowdown(method, args.slowdown_points, args.train_steps, args.rounds, nice)


if __name__ == "__main__":
    main()
