"""Live-monitor budget: the time the live monitors take inside training, as a share of the training time.

    python benchmarks/monitor_budget.py [--epochs 5] [--repeats 3]

Trains the digits demo (default settings) with the live monitors a default run attaches in the training process (initial loss,
loss trend, fit, dead units, gradients, output pairing, and the projection's feature extraction), and times
every hook of each (on_step, on_epoch_end) around the call. The share is that time over the training epochs'
own time (EpochEnded.seconds, which includes the hooks' on_step time), summed over the run; the median
over repeats is printed per monitor and in total. Target: total <= 3 %. The helper-process diagnostics (data
checks, shortcut probe, label check) are not live monitors: they run in their own process. A run by hand.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.core.callbacks import Callback
from workbench.core.events import EpochEnded

TARGET = 0.03
LIVE = ("OutputPairingMonitor", "InitialLossMonitor", "LossTrendMonitor", "FitMonitor", "DeadUnitMonitor",
        "GradientMonitor", "ProjectionMonitor")


class EpochSeconds(Callback):
    def __init__(self) -> None:
        self.seconds = 0.0

    def on_epoch_ended(self, event: EpochEnded) -> None:
        self.seconds += event.seconds


def timed(monitor, spent: dict[str, float]):
    """Wrap the monitor's per-step and per-epoch hooks with a timer (the instance attributes shadow the class's)."""
    name = type(monitor).__name__
    for hook in ("on_step", "on_epoch_end"):
        inner = getattr(monitor, hook)

        def wrapper(*args, _inner=inner, **kwargs):
            start = time.perf_counter()
            try:
                return _inner(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start

        setattr(monitor, hook, wrapper)
    return monitor


def one_run(config, epochs: int) -> tuple[dict[str, float], float]:
    """(seconds per monitor, training seconds) of one run with the live monitors only."""
    import workbench.core.diagnostics
    import workbench.core.projection  # noqa: F401  (registers the monitors)
    from workbench.core.training.engine import train
    from workbench.core.training.monitors import default_monitors

    spent: dict[str, float] = defaultdict(float)
    with tempfile.TemporaryDirectory() as runs:
        run_config = config.model_copy(update={"runs_dir": runs}, deep=True)
        run_config.training.epochs = epochs
        monitors = [timed(m, spent) for m in default_monitors(run_config) if type(m).__name__ in LIVE]
        clock = EpochSeconds()
        result = train(run_config, clock, monitors=monitors)
        assert result.status == "completed", result.reason
    return dict(spent), clock.seconds


def main(argv: list[str] | None = None) -> int:
    from workbench.core.demo import demo_config, write_digits_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        config = demo_config(write_digits_dataset(Path(tmp) / "digits"), Path(tmp) / "runs")
        shares: dict[str, list[float]] = defaultdict(list)
        totals = []
        for _ in range(args.repeats):
            spent, seconds = one_run(config, args.epochs)
            for name in LIVE:
                shares[name].append(spent.get(name, 0.0) / seconds)
            totals.append(sum(spent.values()) / seconds)
    for name in LIVE:
        print(f"{name:22s} {100 * statistics.median(shares[name]):6.2f} % of training time")
    total = statistics.median(totals)
    print(f"{'all live monitors':22s} {100 * total:6.2f} %  (target <= {100 * TARGET:.0f} %, median of "
          f"{args.repeats})")
    return 0 if total <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
