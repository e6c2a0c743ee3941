"""Soak test: 20 short training runs back to back in one process.

Reports resident memory after each run, its growth after warm-up (target < 5 %), and any threads or
open file handles left behind. Run by hand: `python benchmarks/soak.py [--runs 20]`.
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import threading
from pathlib import Path

from workbench.core.demo import demo_config, write_digits_dataset
from workbench.core.training.engine import train


def rss_mib() -> float:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def open_handles() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return -1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dataset = write_digits_dataset(Path(tmp) / "digits")
        config = demo_config(dataset, Path(tmp) / "runs")
        config.training.epochs = 2
        baseline_threads, baseline_handles = threading.active_count(), open_handles()
        memory = []
        for i in range(args.runs):
            result = train(config)
            assert result.status == "completed", result.reason
            gc.collect()
            memory.append(rss_mib())
            print(f"run {i + 1:>2}: {memory[-1]:7.1f} MiB resident, {threading.active_count()} threads, "
                  f"{open_handles()} open handles")
        after_warmup = memory[args.warmup - 1]
        growth = (memory[-1] - after_warmup) / after_warmup
        print(f"\nmemory after warm-up ({args.warmup} runs): {after_warmup:.1f} MiB; after {args.runs}: "
              f"{memory[-1]:.1f} MiB; growth {growth * 100:+.2f} % (target < 5 %)")
        print(f"threads: {baseline_threads} before, {threading.active_count()} after; "
              f"open handles: {baseline_handles} before, {open_handles()} after")


if __name__ == "__main__":
    main()
