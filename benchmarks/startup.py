"""Start-up time: from process start to the main window being shown, for `python -m workbench`.

    python benchmarks/startup.py [--repeats 5]

Each repeat spawns `python -m workbench` with WORKBENCH_STARTUP_PROBE=1, which makes the window print
`WORKBENCH_WINDOW_SHOWN <time.time()> torch_loaded=<0|1>` from its first showEvent and quit. The time is
measured from just before the spawn. Prints every repeat and the median; the target is under 2 s, and
torch must not be loaded by then (it is imported in the background after the window is up).
Runs offscreen unless QT_QPA_PLATFORM is set. A run by hand, never by CI.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 2.0
ROOT = Path(__file__).resolve().parents[1]


def one_start(env: dict[str, str]) -> tuple[float, bool]:
    """(seconds from spawn to the window's showEvent, whether torch was loaded by then)."""
    start = time.time()
    out = subprocess.run([sys.executable, "-m", "workbench"], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("WORKBENCH_WINDOW_SHOWN"):
            parts = line.split()
            shown = float(parts[1])
            torch_loaded = len(parts) > 2 and parts[2].endswith("=1")
            return shown - start, torch_loaded
    raise RuntimeError(f"the window never reported being shown (exit {out.returncode}):\n{out.stderr[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "WORKBENCH_STARTUP_PROBE": "1", "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM",
                                                                                                "offscreen"),
               "XDG_CONFIG_HOME": home, "XDG_DATA_HOME": home}
        one_start(env)  # warm the file cache; not counted
        times = []
        for i in range(args.repeats):
            seconds, torch_loaded = one_start(env)
            times.append(seconds)
            print(f"start {i + 1}: {seconds:.2f} s (torch loaded at show: {'yes' if torch_loaded else 'no'})")
    median = statistics.median(times)
    verdict = "OK" if median < TARGET_S else "SLOWER THAN TARGET"
    print(f"median {median:.2f} s over {len(times)} starts (min {min(times):.2f}, max {max(times):.2f}); "
          f"target < {TARGET_S:.1f} s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
